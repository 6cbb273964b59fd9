// Passwords.
//
//   method  path                               who        what
//   PATCH   /auth/password                     signed in  change it, with the current one;
//                                                         every refresh token is revoked
//   POST    /auth/forgot-password/request-otp  anyone     mail a reset code (202 either way)
//   GET     /auth/verify?email=&otp=           anyone     is the code valid (not spent)
//   POST    /auth/forgot-password/reset        anyone     spend the code, set the password
import { type App, problems } from '@tms/http'
import { currentUser, requireAuthentication } from '@tms/jwt'
import type { AuthDeps } from '../use-cases/deps.ts'
import {
  changePassword,
  requestResetCode,
  resetPassword,
  verifyResetCode,
} from '../use-cases/passwords.ts'
import { NoContent } from './schemas/common.ts'
import {
  Accepted,
  OtpRequestBody,
  PasswordChangeBody,
  ResetBody,
  Valid,
  VerifyQuery,
} from './schemas/passwords.ts'

export async function passwordRoutes(app: App, { deps }: { deps: AuthDeps }) {
  app.post(
    '/forgot-password/request-otp',
    {
      schema: {
        summary: 'Mail a password-reset code',
        description:
          'The same 202 whether or not the email belongs to an account. The code has 6 digits, is valid 10 minutes, single use, and dies after 5 wrong tries; a new request replaces it.',
        tags: ['password reset'],
        body: OtpRequestBody,
        response: { 202: Accepted, ...problems(400, 429) },
      },
    },
    async (request, reply) => {
      await requestResetCode(deps, request.body.email, request.ip)
      return reply.code(202).send({
        detail: 'if the email belongs to an account, a reset code has been sent to it',
      })
    },
  )

  app.get(
    '/verify',
    {
      schema: {
        summary: 'Check a password-reset code without spending it',
        description: 'A wrong code counts toward the 5 tries the code has.',
        tags: ['password reset'],
        querystring: VerifyQuery,
        response: { 200: Valid, ...problems(400, 429) },
      },
    },
    async (request) => {
      await verifyResetCode(deps, request.query, request.ip)
      return { valid: true as const }
    },
  )

  app.post(
    '/forgot-password/reset',
    {
      schema: {
        summary: 'Set a new password with a reset code',
        description: 'The code is spent and every refresh token of the account is revoked.',
        tags: ['password reset'],
        body: ResetBody,
        response: { 204: NoContent, ...problems(400, 429) },
      },
    },
    async (request, reply) => {
      await resetPassword(deps, request.body, request.ip)
      return reply.code(204).send(null)
    },
  )

  await app.register(async (signedIn: App) => {
    requireAuthentication(signedIn)
    signedIn.patch(
      '/password',
      {
        schema: {
          summary: 'Change the password',
          description: 'Every refresh token of the account is revoked.',
          tags: ['auth'],
          body: PasswordChangeBody,
          response: { 204: NoContent, ...problems(400, 401, 403, 415, 429, 503) },
        },
      },
      async (request, reply) => {
        await changePassword(deps, currentUser(request).id, request.body, request.ip)
        return reply.code(204).send(null)
      },
    )
  })
}
