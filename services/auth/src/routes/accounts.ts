// Accounts.
//
//   method  path           who        what
//   POST    /auth/signup   anyone     create a student or tutor account; auth.user.registered
//   PATCH   /auth/email    signed in  change the email, with the current password;
//                                     auth.user.email-changed, a notice to the old address
import { type App, problems } from '@tms/http'
import { currentUser, requireAuthentication } from '@tms/jwt'
import { changeEmail, signup } from '../use-cases/accounts.ts'
import type { AuthDeps } from '../use-cases/deps.ts'
import { Account, EmailChangeBody, SignupBody } from './schemas/accounts.ts'

export async function accountRoutes(app: App, { deps }: { deps: AuthDeps }) {
  app.post(
    '/signup',
    {
      schema: {
        summary: 'Create an account (student or tutor)',
        tags: ['auth'],
        body: SignupBody,
        response: { 201: Account, ...problems(400, 409, 415, 429, 503) },
      },
    },
    async (request, reply) => reply.code(201).send(await signup(deps, request.body, request.ip)),
  )

  await app.register(async (signedIn: App) => {
    requireAuthentication(signedIn)
    signedIn.patch(
      '/email',
      {
        schema: {
          summary: 'Change the email (the login and the reset channel)',
          tags: ['auth'],
          body: EmailChangeBody,
          response: { 200: Account, ...problems(400, 401, 403, 409, 415, 429, 503) },
        },
      },
      async (request) => changeEmail(deps, currentUser(request).id, request.body, request.ip),
    )
  })
}
