// Token policy: short-lived signed access tokens, long-lived opaque refresh tokens stored only
// as a SHA-256 hash (a stolen database yields no usable token), rotated on every use.
import { createHash, randomBytes } from 'node:crypto'

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

/** A fast hash is enough: the token has 256 bits of entropy, nothing to brute-force. */
export function refreshTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export interface StoredRefreshToken {
  expires_at: Date
  spent_at: Date | null
  revoked_at: Date | null
}

/**
 * What presenting a refresh token means: `rotate` it; `reuse` of a spent one means it was
 * stolen or replayed, so its whole family goes; anything else is simply refused.
 */
export function refreshDecision(
  token: StoredRefreshToken | undefined,
  now: Date,
): 'rotate' | 'reuse' | 'refuse' {
  if (!token || token.revoked_at) return 'refuse'
  if (token.spent_at) return 'reuse'
  if (token.expires_at.getTime() <= now.getTime()) return 'refuse'
  return 'rotate'
}
