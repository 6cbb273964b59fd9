// Verifies the access tokens of the SPEC: ES256 only, key chosen by `kid` from the auth
// service's JWKS, `typ: at+jwt`, the issuer and audience of this deployment, and the claims
// every service relies on. Anything else (a refresh token, an ID token, `alg: none`, an HMAC
// forged with the public key, a token spelled with base64 padding, one issued in the future)
// is refused.
import { type Clock, systemClock } from '@tms/clock'
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
  /** The time to check `exp`, `nbf` and `iat` against (the service's clock; tests move it). */
  clock?: Clock
  /**
   * Tokens verified already, kept to answer again without a signature check (default 10 000;
   * 0 keeps none). See VerifiedTokens.
   */
  cacheSize?: number
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

/** The time claims of a verified token, in seconds, as the cache re-checks them. */
interface TokenTimes {
  exp: number
  iat: number
  nbf: number | undefined
}

/**
 * Why jose would refuse these times now, or undefined: its own rules and arithmetic (whole
 * seconds, the same tolerance), so that a cached token is refused exactly when verifying it
 * again would be.
 */
export function timesRefusal(
  times: TokenTimes,
  now: Date,
  toleranceSeconds: number,
  maxAgeSeconds: number,
): string | undefined {
  const at = Math.floor(now.getTime() / 1000)
  if (times.nbf !== undefined && times.nbf > at + toleranceSeconds) return 'not valid yet'
  if (times.exp <= at - toleranceSeconds) return 'expired'
  const age = at - times.iat
  if (age - toleranceSeconds > maxAgeSeconds) return 'issued too long ago'
  if (age < -toleranceSeconds) return 'issued in the future'
  return undefined
}

/**
 * Tokens that passed verification, by their exact text, so that a client's next requests with
 * the same token cost a map lookup and the time checks instead of an ES256 signature check and
 * the JSON parsing around it (a third of a signed-in read's CPU). What is cached can never be
 * accepted where verification would refuse it:
 * - only a token that passed every check is kept, under its whole text: another spelling, a
 *   changed byte, is another key and is verified in full;
 * - on every use, `exp`, `nbf`, `iat` and the maximum age are checked again, as jose does,
 *   against the verifier's clock; an entry that fails them is dropped and the token verified
 *   (and refused) in full;
 * - refusals are never kept: a refused token is checked in full every time.
 * What it does not notice is a signing key withdrawn from the JWKS while a token it signed is
 * cached: jose's own key cache keeps such a key for up to ten minutes too, and the token itself
 * expires within its lifetime (15 minutes by default).
 * Memory: at most `size` entries (a token of about 500 bytes and its user, so about 10 MB at the
 * default); when full, the oldest entry goes first.
 */
class VerifiedTokens {
  readonly #entries = new Map<string, { user: AccessTokenUser; times: TokenTimes }>()
  readonly #size: number
  constructor(size: number) {
    this.#size = size
  }
  get(token: string): { user: AccessTokenUser; times: TokenTimes } | undefined {
    return this.#entries.get(token)
  }
  drop(token: string): void {
    this.#entries.delete(token)
  }
  keep(token: string, user: AccessTokenUser, times: TokenTimes): void {
    if (this.#size <= 0) return
    if (this.#entries.size >= this.#size) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    this.#entries.set(token, { user, times })
  }
}

export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const getKey = keyResolver(options.keys)
  const tolerance = options.clockToleranceSeconds ?? 5
  const clock = options.clock ?? systemClock
  // Also refuses an `iat` in the future (beyond the tolerance).
  const maxTokenAge = options.maxTokenAgeSeconds ?? 3600
  const cache = new VerifiedTokens(options.cacheSize ?? 10_000)

  async function verifyFully(token: string): Promise<AccessTokenUser> {
    if (!compactJws.test(token)) throw new InvalidTokenError('not a compact JWS')
    let payload: Record<string, unknown>
    try {
      const result = await jwtVerify(token, getKey, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: options.issuer,
        audience: ACCESS_TOKEN_AUDIENCE,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: tolerance,
        maxTokenAge,
        currentDate: clock.now(),
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
    const user: AccessTokenUser = Object.freeze({ id: sub, role: role as Role, username })
    // jose has checked that these are numbers (exp and iat required).
    cache.keep(token, user, {
      exp: payload.exp as number,
      iat: payload.iat as number,
      nbf: payload.nbf as number | undefined,
    })
    return user
  }

  return async (token) => {
    const known = cache.get(token)
    if (known) {
      const now = clock.now()
      if (timesRefusal(known.times, now, tolerance, maxTokenAge) === undefined) return known.user
      cache.drop(token)
    }
    return verifyFully(token)
  }
}
