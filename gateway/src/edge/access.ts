// Who may pass the edge: @fastify/jwt verifies the access token against the auth service's
// keys (exactly ES256, `typ: at+jwt`, issuer, audience `tms-api`, `exp`; its verify cache on,
// so a token seen before costs a hash, not a signature check), then the route table's roles
// decide. The token goes on to the service unchanged; the service verifies it again and checks
// ownership.
import fastifyJwt from '@fastify/jwt'
import type { Clock } from '@tms/clock'
import { roles } from '@tms/contracts'
import { httpError } from '@tms/http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type KeySource, KeysUnavailableError } from './keys.ts'
import type { Access, Role } from './route-table.ts'

export const ACCESS_TOKEN_AUDIENCE = 'tms-api'

export interface Caller {
  id: string
  role: Role
  username: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Record<string, unknown>
    user: Record<string, unknown>
  }
}

export interface AccessOptions {
  keys: KeySource
  issuer: string
  clock: Clock
  /** Seconds of clock skew tolerated on `exp` and `iat`. */
  clockToleranceSeconds?: number
  /** Verified tokens kept (the verify cache); each until its `exp`. */
  cacheSize?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Checks the request's token against the route's access rule; throws (or rejects with)
     * 401/403/503. Synchronous for a public route or a token verified before, a promise when
     * the token must be verified: the common case costs no promise.
     */
    checkAccess(
      request: FastifyRequest,
      access: Access,
    ): Caller | undefined | Promise<Caller | undefined>
  }
}

// base64url parts only: no `=` padding, no other alphabet, and a signature present.
const bearerPattern = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/
const maxTokenLength = 4096

function unauthorized(detail: string, error?: 'invalid_token' | 'invalid_request') {
  const challenge = error ? `Bearer error="${error}"` : 'Bearer'
  return httpError(401, detail, { headers: { 'www-authenticate': challenge } })
}

/** The keys could not be had at all: the error, or one it wraps. */
function keysUnavailable(err: unknown): boolean {
  let e: unknown = err
  while (e instanceof Error) {
    if (e instanceof KeysUnavailableError) return true
    e = (e as Error).cause
  }
  return false
}

export const edgeAccess = fp<AccessOptions>(
  async (app: FastifyInstance, options) => {
    const toleranceMs = (options.clockToleranceSeconds ?? 5) * 1000
    await app.register(fastifyJwt, {
      // The key of the token's `kid`, from the auth service's JWKS (cached).
      secret: async (_request: FastifyRequest, token: unknown) => {
        const kid = (token as { header?: { kid?: unknown } }).header?.kid
        if (typeof kid !== 'string' || kid === '') throw unauthorized('the token has no key id')
        return options.keys.key(kid)
      },
      decode: { complete: true },
      verify: {
        algorithms: ['ES256'],
        allowedIss: options.issuer,
        allowedAud: ACCESS_TOKEN_AUDIENCE,
        checkTyp: 'at+jwt',
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: toleranceMs,
        cache: options.cacheSize ?? 10_000,
        extractToken: (request: FastifyRequest) => {
          const header = request.headers.authorization ?? ''
          const match = header.length <= maxTokenLength ? bearerPattern.exec(header) : null
          return match?.[1] ?? ''
        },
      },
    })

    // Tokens already verified, by their text: a token seen before costs a map lookup and the
    // clock checks below, not @fastify/jwt's decode and fast-jwt's cache hash (4% of the
    // gateway's CPU under load). Bounded; the oldest entry goes first.
    const cacheSize = options.cacheSize ?? 10_000
    const verified = new Map<string, { caller: Caller; iat: number; exp: number }>()

    async function verify(request: FastifyRequest, token: string): Promise<Caller> {
      let payload: Record<string, unknown>
      try {
        payload = (await request.jwtVerify()) as Record<string, unknown>
      } catch (err) {
        if (keysUnavailable(err)) {
          request.log.error({ err }, 'token keys unavailable')
          throw httpError(503, 'the token could not be checked now; try again shortly', {
            headers: { 'retry-after': '5' },
          })
        }
        request.log.info({ reason: (err as Error).message }, 'access token refused')
        throw unauthorized('the access token is not valid', 'invalid_token')
      }
      const { sub, role, username, iat, exp } = payload
      if (
        typeof sub !== 'string' ||
        sub === '' ||
        typeof username !== 'string' ||
        !roles.includes(role as Role) ||
        typeof iat !== 'number' ||
        typeof exp !== 'number'
      ) {
        throw unauthorized('the access token is not valid', 'invalid_token')
      }
      const caller: Caller = { id: sub, role: role as Role, username }
      checkTimes(caller, iat, exp)
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string)
      verified.set(token, { caller, iat, exp })
      return caller
    }

    /** The verifier checks `exp` against the system time; these use the injected clock. */
    function checkTimes(caller: Caller, iat: number, exp: number): Caller {
      const now = options.clock.now().getTime()
      if (iat * 1000 > now + toleranceMs) {
        throw unauthorized('the access token is not valid', 'invalid_token')
      }
      if (exp * 1000 <= now - toleranceMs) {
        throw unauthorized('the access token has expired', 'invalid_token')
      }
      return caller
    }

    function allowed(caller: Caller, access: Access): Caller {
      if (access !== 'optional' && access !== 'public' && !access.includes(caller.role)) {
        throw httpError(403, `this action is for ${access.join(' or ')} accounts`)
      }
      return caller
    }

    app.decorate('checkAccess', (request: FastifyRequest, access: Access) => {
      if (access === 'public') return undefined
      const header = request.headers.authorization
      if (header === undefined || header === '') {
        if (access === 'optional') return undefined
        throw unauthorized('an access token is required')
      }
      if (!/^Bearer /i.test(header)) {
        throw unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request')
      }
      const token = header.slice(7)
      const known = verified.get(token)
      if (known) return allowed(checkTimes(known.caller, known.iat, known.exp), access)
      return verify(request, token).then((caller) => allowed(caller, access))
    })
  },
  { name: 'tms-gateway-access', fastify: '5.x' },
)
