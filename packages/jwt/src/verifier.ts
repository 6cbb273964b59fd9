// Verifies the access tokens of the SPEC: ES256 only, key chosen by `kid` from the auth
// service's JWKS, `typ: at+jwt`, the issuer and audience of this deployment, and the claims
// every service relies on. Anything else (a refresh token, an ID token, `alg: none`, an HMAC
// forged with the public key, a token spelled with base64 padding, one issued in the future)
// is refused.
import { type Role, roles } from '@tms/contracts'
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose'

export const ACCESS_TOKEN_ALGORITHM = 'ES256'
export const ACCESS_TOKEN_AUDIENCE = 'tms-api'
export const ACCESS_TOKEN_TYPE = 'at+jwt'

/** Who made a request, as the access token says. */
export interface AccessTokenUser {
  id: string
  role: Role
  username: string
}

/** The token is not an acceptable access token: answer 401. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError'
}

/** The keys to check the token could not be fetched: not the caller's fault, answer 503. */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError'
}

export type KeySource =
  /** The auth service's JWKS URL, fetched and cached; refetched when an unknown kid appears. */
  | { jwksUrl: string | URL; timeoutMs?: number }
  /** A key set at hand (the auth service itself, tests). */
  | { jwks: JSONWebKeySet }
  | { getKey: JWTVerifyGetKey }

export interface VerifierOptions {
  issuer: string
  keys: KeySource
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. */
  clockToleranceSeconds?: number
  /**
   * Oldest `iat` accepted, in seconds (default 3600, the longest access-token lifetime the auth
   * service can be configured with): `iat` is required, and one in the future is refused.
   */
  maxTokenAgeSeconds?: number
  /** For tests: the time to check `exp` against. */
  now?: () => Date
}

export type AccessTokenVerifier = (token: string) => Promise<AccessTokenUser>

function keyResolver(source: KeySource): JWTVerifyGetKey {
  if ('getKey' in source) return source.getKey
  if ('jwks' in source) return createLocalJWKSet(source.jwks)
  return createRemoteJWKSet(new URL(source.jwksUrl), { timeoutDuration: source.timeoutMs ?? 5000 })
}

const keyFetchFailures = new Set(['ERR_JOSE_GENERIC', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID'])

/**
 * A compact JWS is three base64url parts without padding (RFC 7515 §2, §7.1). Decoders that
 * tolerate `=` make several spellings of one token valid; only the one spelling is accepted.
 */
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const getKey = keyResolver(options.keys)
  return async (token) => {
    if (!compactJws.test(token)) throw new InvalidTokenError('not a compact JWS')
    let payload: Record<string, unknown>
    try {
      const result = await jwtVerify(token, getKey, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: options.issuer,
        audience: ACCESS_TOKEN_AUDIENCE,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: options.clockToleranceSeconds ?? 5,
        // Also refuses an `iat` in the future (beyond the tolerance).
        maxTokenAge: options.maxTokenAgeSeconds ?? 3600,
        currentDate: options.now?.(),
      })
      payload = result.payload
    } catch (err) {
      if (err instanceof errors.JOSEError && !keyFetchFailures.has(err.code)) {
        throw new InvalidTokenError(err.message, { cause: err })
      }
      throw new KeysUnavailableError('the token signing keys could not be fetched', { cause: err })
    }
    const { sub, role, username } = payload
    if (typeof sub !== 'string' || sub === '') throw new InvalidTokenError('no subject')
    if (typeof role !== 'string' || !roles.includes(role as Role)) {
      throw new InvalidTokenError('no valid role')
    }
    if (typeof username !== 'string' || username === '') throw new InvalidTokenError('no username')
    return { id: sub, role: role as Role, username }
  }
}
