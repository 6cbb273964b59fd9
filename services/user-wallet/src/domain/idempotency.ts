// Idempotency-Key rules that need no database: the request fingerprint and what a stored key
// means for a new request with the same key.
import { createHash } from 'node:crypto'

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/**
 * A key still "in progress" after this long belongs to a request whose process died; it may be
 * taken over (the effect and the stored answer commit together, so nothing was applied).
 */
export const STALE_IN_PROGRESS_MS = 60 * 1000

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

export interface StoredKey {
  request_hash: string
  status_code: number | null
  created_at: Date
}

export type KeyDecision =
  | { kind: 'replay' }
  | { kind: 'conflict'; detail: string }
  | { kind: 'take-over' }

export function decideExisting(stored: StoredKey, hash: string, now: Date): KeyDecision {
  const age = now.getTime() - stored.created_at.getTime()
  if (age >= IDEMPOTENCY_TTL_MS) return { kind: 'take-over' }
  if (stored.request_hash !== hash) {
    return { kind: 'conflict', detail: 'this Idempotency-Key was used with another request body' }
  }
  if (stored.status_code === null) {
    if (age >= STALE_IN_PROGRESS_MS) return { kind: 'take-over' }
    return { kind: 'conflict', detail: 'a request with this Idempotency-Key is still in progress' }
  }
  return { kind: 'replay' }
}
