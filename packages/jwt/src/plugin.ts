// Fastify side of access tokens: reads `Authorization: Bearer`, sets request.user, and guards
// routes by role. 401 (with WWW-Authenticate) for a missing or bad token, 403 for a role that
// may never call the route.
import type { Role } from '@tms/contracts'
import { bearerSecurity, httpError } from '@tms/http'
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import {
  type AccessTokenUser,
  type AccessTokenVerifier,
  InvalidTokenError,
  KeysUnavailableError,
} from './verifier.ts'

declare module 'fastify' {
  interface FastifyInstance {
    verifyAccessToken: AccessTokenVerifier
  }
  interface FastifyRequest {
    /** The caller, once an auth hook has run; null for anonymous requests. */
    user: AccessTokenUser | null
  }
}

export interface AccessTokenPluginOptions {
  verify: AccessTokenVerifier
}

export const accessTokens = fp<AccessTokenPluginOptions>(
  async (app: FastifyInstance, options) => {
    app.decorate('verifyAccessToken', options.verify)
    app.decorateRequest('user', null)
  },
  { name: '@tms/jwt', fastify: '5.x' },
)

function unauthorized(detail: string, error?: 'invalid_token' | 'invalid_request') {
  const challenge = error ? `Bearer error="${error}"` : 'Bearer'
  return httpError(401, detail, { headers: { 'www-authenticate': challenge } })
}

/** The bearer token of the request, undefined when there is none. */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined || header === '') return undefined
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header)
  if (!match?.[1])
    throw unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request')
  return match[1]
}

async function verified(request: FastifyRequest, token: string): Promise<AccessTokenUser> {
  try {
    return await request.server.verifyAccessToken(token)
  } catch (err) {
    if (err instanceof InvalidTokenError) {
      request.log.info({ reason: err.message }, 'access token refused')
      throw unauthorized('the access token is not valid', 'invalid_token')
    }
    if (err instanceof KeysUnavailableError) {
      request.log.error({ err }, 'token keys unavailable')
      throw httpError(503, 'the token could not be checked now; try again shortly')
    }
    throw err
  }
}

/** Hook: the request must carry a valid access token. */
export async function authenticate(request: FastifyRequest): Promise<void> {
  if (request.user) return
  const token = bearerToken(request)
  if (token === undefined) throw unauthorized('an access token is required')
  request.user = await verified(request, token)
}

/** Hook: a token is optional (anonymous callers allowed), but a bad one is still refused. */
export async function authenticateOptional(request: FastifyRequest): Promise<void> {
  if (request.user) return
  const token = bearerToken(request)
  if (token !== undefined) request.user = await verified(request, token)
}

/** Hook: a valid token of one of the roles, else 401 or 403. */
export function requireRole(...allowed: Role[]) {
  return async function requireRoleHook(request: FastifyRequest): Promise<void> {
    await authenticate(request)
    if (!allowed.includes(currentUser(request).role)) {
      throw httpError(403, `this action is for ${allowed.join(' or ')} accounts`)
    }
  }
}

/** The authenticated caller; for handlers behind authenticate or requireRole. */
export function currentUser(request: FastifyRequest): AccessTokenUser {
  if (!request.user) throw unauthorized('an access token is required')
  return request.user
}

/**
 * Makes every route of an encapsulated scope need an access token, once for the scope: an
 * onRequest hook (`authenticate`, or a stricter one such as an admin check that authenticates
 * first) and the bearer security in each route's OpenAPI schema. Call it first thing in the
 * plugin, before its routes:
 *
 *   await app.register(async (signedIn: App) => {
 *     requireAuthentication(signedIn)
 *     signedIn.patch('/password', …)
 *   })
 */
export function requireAuthentication(
  scope: FastifyInstance,
  hook: onRequestHookHandler = authenticate,
): void {
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: route.schema?.security ?? bearerSecurity }
  })
  scope.addHook('onRequest', hook)
}
