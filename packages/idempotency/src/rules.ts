// The rules of an Idempotency-Key that need no database: the fingerprint of a request body and
// what a stored key means for a new request that presents it.
import { createHash } from 'node:crypto'

/** How long a key is kept (SPEC: 24 hours); an older one is treated as never seen. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

/**
 * A claim whose row nobody holds locked and that has no answer after this long belongs to a
 * request that stopped between claiming the key and starting its effect (a crash): it may be
 * taken over. A request whose effect is running holds the row locked, which is how a running
 * request is told from a dead one, so this only bounds the wait after a crash.
 */
export const STALE_CLAIM_MS = 10_000

/**
 * Up to 255 visible ASCII characters (the header is echoed into logs); an empty header counts
 * as no key.
 */
export const KEY_PATTERN = '^[\\x21-\\x7e]{0,255}$'

/** JSON with object keys sorted at every level, so equal bodies hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex')
}

/** What is stored for a key, as far as the decision needs it. */
export interface StoredClaim {
  request_hash: string
  status_code: number | null
  claimed_at: Date
  created_at: Date
}

export type ClaimDecision =
  /** The first request finished: answer with what it answered. */
  | { kind: 'replay' }
  /** The same key with another body. */
  | { kind: 'reused' }
  /** The first request may still be running: come back in `retryAfterMs`. */
  | { kind: 'in-progress'; retryAfterMs: number }
  /** Expired, or abandoned by a request that died before its effect: claim it afresh. */
  | { kind: 'take-over' }

/**
 * Decides for a stored key that nobody holds locked (a locked one is in progress, whatever it
 * says). Expiry comes first: a key older than the TTL is free whatever it was used for.
 */
export function decideClaim(
  stored: StoredClaim,
  hash: string,
  now: Date,
  staleClaimMs: number = STALE_CLAIM_MS,
): ClaimDecision {
  if (now.getTime() - stored.created_at.getTime() >= IDEMPOTENCY_TTL_MS)
    return { kind: 'take-over' }
  if (stored.request_hash !== hash) return { kind: 'reused' }
  if (stored.status_code !== null) return { kind: 'replay' }
  const idle = now.getTime() - stored.claimed_at.getTime()
  if (idle >= staleClaimMs) return { kind: 'take-over' }
  return { kind: 'in-progress', retryAfterMs: staleClaimMs - idle }
}
