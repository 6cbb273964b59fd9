// Password-reset codes: 6 digits from a CSPRNG, kept only as an HMAC under a server secret (a
// database dump does not reveal live codes, and 10^6 codes cannot be brute-forced offline
// without the secret), valid for a short time, single use, dead after a few wrong tries.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto'

export const OTP_MAX_FAILED_ATTEMPTS = 5

export function generateOtp(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0')
}

/** Bound to the account, so one code's HMAC says nothing about another account's. */
export function otpHash(secret: string, userId: string, code: string): string {
  return createHmac('sha256', secret).update(`${userId}:${code}`).digest('hex')
}

export interface StoredOtp {
  code_hash: string
  expires_at: Date
  failed_attempts: number
}

export type OtpCheck = 'valid' | 'wrong' | 'expired' | 'dead'

export function checkOtp(
  stored: StoredOtp,
  secret: string,
  userId: string,
  code: string,
  now: Date,
): OtpCheck {
  // The HMAC is computed whatever the outcome, so no outcome answers faster than another.
  const given = Buffer.from(otpHash(secret, userId, code), 'hex')
  const expected = Buffer.from(stored.code_hash, 'hex')
  const matches = given.length === expected.length && timingSafeEqual(given, expected)
  if (stored.failed_attempts >= OTP_MAX_FAILED_ATTEMPTS) return 'dead'
  if (stored.expires_at.getTime() <= now.getTime()) return 'expired'
  return matches ? 'valid' : 'wrong'
}

/**
 * What an email without a live code is checked against: the same HMAC work, never valid (its
 * hash is no HMAC's output but by a 2^-256 chance).
 */
export const NO_OTP: StoredOtp = {
  code_hash: '0'.repeat(64),
  expires_at: new Date(8.64e15),
  failed_attempts: 0,
}
