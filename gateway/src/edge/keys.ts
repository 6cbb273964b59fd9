// The auth service's public signing keys, by `kid`, for @fastify/jwt. Fetched once and cached;
// a token with an unknown `kid` causes a refetch at most once per `minRefetchMs` (a flood of
// made-up kids costs auth one request per interval, not one per token; once a second while no
// key has ever been had); known keys are
// refreshed in the background after `maxAgeMs`; and while auth is down, tokens signed by a
// cached key keep passing.
import { createPublicKey } from 'node:crypto'
import type { Clock } from '@tms/clock'

/** Where the gateway gets the keys: the auth service's JWKS URL, or (tests) a function. */
export interface KeySource {
  /** The public key (PEM) of `kid`; throws UnknownKeyError or KeysUnavailableError. */
  key(kid: string): Promise<string>
  /** Whether any key has been loaded yet: for /health. */
  loaded(): boolean
  /** Loads the keys now (at start-up), so the first requests need not wait; never throws. */
  warm(): Promise<void>
}

/** No key of that id, even after asking auth (or asking is not due yet): the token is bad. */
export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError'
}

/** No key could be had at all (auth unreachable and nothing cached): not the caller's fault. */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError'
}

export interface JwksOptions {
  url: string
  clock: Clock
  minRefetchMs: number
  maxAgeMs: number
  timeoutMs?: number
  /** Told of each fetch and its outcome (metrics, logs). */
  onFetch?: (outcome: 'ok' | 'failed', error?: unknown) => void
}

interface Jwk {
  kty?: string
  crv?: string
  alg?: string
  use?: string
  kid?: string
  x?: string
  y?: string
}

/** ES256 keys only: anything else in the set is ignored, never used to verify. */
function pemOf(jwk: Jwk): string | undefined {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.kid) return undefined
  if (jwk.alg !== undefined && jwk.alg !== 'ES256') return undefined
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined
  try {
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
      format: 'jwk',
    })
    return key.export({ type: 'spki', format: 'pem' }).toString()
  } catch {
    return undefined
  }
}

export function jwksKeySource(options: JwksOptions): KeySource {
  let keys = new Map<string, string>()
  let fetchedAt = Number.NEGATIVE_INFINITY
  let attemptedAt = Number.NEGATIVE_INFINITY
  let inFlight: Promise<void> | undefined
  const now = () => options.clock.now().getTime()

  async function fetchKeys(): Promise<void> {
    attemptedAt = now()
    try {
      const res = await fetch(options.url, {
        signal: AbortSignal.timeout(options.timeoutMs ?? 3000),
        headers: { accept: 'application/json' },
      })
      if (!res.ok) throw new Error(`JWKS answered ${res.status}`)
      const body = (await res.json()) as { keys?: Jwk[] }
      if (!Array.isArray(body.keys)) throw new Error('JWKS has no keys array')
      const next = new Map<string, string>()
      for (const jwk of body.keys) {
        const pem = pemOf(jwk)
        if (pem && jwk.kid) next.set(jwk.kid, pem)
      }
      if (next.size === 0) throw new Error('JWKS has no ES256 signing key')
      keys = next
      fetchedAt = now()
      options.onFetch?.('ok')
    } catch (err) {
      // The keys we had stay in use.
      options.onFetch?.('failed', err)
      throw err
    }
  }

  /** One fetch at a time; callers during it share its outcome. */
  function refresh(): Promise<void> {
    inFlight ??= fetchKeys().finally(() => {
      inFlight = undefined
    })
    return inFlight
  }

  return {
    loaded: () => keys.size > 0,
    warm: () => refresh().catch(() => {}),
    async key(kid) {
      const known = keys.get(kid)
      if (known) {
        if (now() - fetchedAt >= options.maxAgeMs && now() - attemptedAt >= options.minRefetchMs) {
          refresh().catch(() => {})
        }
        return known
      }
      // With no keys at all (auth was down at start-up) asking again is due sooner: nothing
      // can pass until it answers, and once a second still bounds a flood.
      const interval = keys.size === 0 ? Math.min(options.minRefetchMs, 1000) : options.minRefetchMs
      if (now() - attemptedAt >= interval || inFlight) {
        try {
          await refresh()
        } catch (err) {
          if (keys.size === 0) {
            throw new KeysUnavailableError('the signing keys could not be fetched', { cause: err })
          }
        }
        const fetched = keys.get(kid)
        if (fetched) return fetched
      } else if (keys.size === 0) {
        throw new KeysUnavailableError('the signing keys could not be fetched recently')
      }
      throw new UnknownKeyError(`no signing key ${JSON.stringify(kid)}`)
    },
  }
}

/** A fixed key set (tests that do not run auth). */
export function staticKeySource(jwks: { keys: Jwk[] }): KeySource {
  const keys = new Map<string, string>()
  for (const jwk of jwks.keys) {
    const pem = pemOf(jwk)
    if (pem && jwk.kid) keys.set(jwk.kid, pem)
  }
  return {
    loaded: () => keys.size > 0,
    warm: async () => {},
    async key(kid) {
      const pem = keys.get(kid)
      if (!pem) throw new UnknownKeyError(`no signing key ${JSON.stringify(kid)}`)
      return pem
    },
  }
}
