// Sessions.
//
//   method  path           who     what
//   POST    /auth/login    anyone  username (or email) and password, JSON or an OAuth2 form:
//                                  a token pair; wrong guesses slow the account down (429)
//   POST    /auth/refresh  anyone  a refresh token for a new pair; the old one is spent
//   POST    /auth/logout   anyone  revokes a refresh token and its family; 204 even if unknown
import formbody from '@fastify/formbody'
import { type App, problems } from '@tms/http'
import type { FastifyReply } from 'fastify'
import type { AuthDeps } from '../use-cases/deps.ts'
import { login, logout, refresh } from '../use-cases/sessions.ts'
import { NoContent } from './schemas/common.ts'
import { LoginBody, RefreshBody, TokenPair } from './schemas/sessions.ts'

/** Token answers must not be cached anywhere (RFC 6749 §5.1). */
function noStore(reply: FastifyReply) {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

export async function sessionRoutes(app: App, { deps }: { deps: AuthDeps }) {
  // Only the login takes a form (the docs' Authorize button posts one): the form parser lives
  // in this route's own scope, so every other route answers a form with 415.
  await app.register(async (withForms: App) => {
    await withForms.register(formbody)
    withForms.post(
      '/login',
      {
        schema: {
          summary: 'Log in with username (or email) and password',
          description:
            'JSON, or an OAuth2 password form (`application/x-www-form-urlencoded`; `grant_type`, `scope`, `client_id` and `client_secret` are accepted and ignored). Wrong guesses slow the account down (429 with Retry-After), see the README.',
          tags: ['auth'],
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: LoginBody,
          response: { 200: TokenPair, ...problems(400, 401, 415, 429, 503) },
        },
      },
      async (request, reply) => {
        const pair = await login(deps, request.body, request.ip)
        noStore(reply)
        return pair
      },
    )
  })

  app.post(
    '/refresh',
    {
      schema: {
        summary: 'Exchange a refresh token for a new pair',
        description:
          'The presented token is spent. Presenting a spent token again revokes every token of its login.',
        tags: ['auth'],
        body: RefreshBody,
        response: { 200: TokenPair, ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const pair = await refresh(deps, request.body.refresh_token)
      noStore(reply)
      return pair
    },
  )

  app.post(
    '/logout',
    {
      schema: {
        summary: 'Revoke a refresh token (and every token rotated from the same login)',
        tags: ['auth'],
        body: RefreshBody,
        response: { 204: NoContent, ...problems(400) },
      },
    },
    async (request, reply) => {
      await logout(deps, request.body.refresh_token)
      return reply.code(204).send(null)
    },
  )
}
