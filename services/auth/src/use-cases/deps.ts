// What auth's use-cases work with; app.ts makes it from the service's context.
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { Logger } from '@tms/logging'
import type { AuthConfig } from '../config.ts'
import type { AuthDatabase } from '../db/schema.ts'
import type { PasswordChecker } from '../domain/password.ts'
import type { RateLimiter } from '../domain/rate-limit.ts'
import type { AccountThrottle } from '../domain/throttle.ts'
import type { SigningKeys } from '../domain/tokens.ts'
import type { EventOutbox } from '../events/publish.ts'

export type AuthSettings = Pick<
  AuthConfig,
  | 'jwtIssuer'
  | 'accessTokenTtlSeconds'
  | 'refreshTokenTtlDays'
  | 'otpSecret'
  | 'otpTtlSeconds'
  | 'otpRequestMinMs'
>

/** The in-memory limits: per address and account (rate-limit.ts), password guesses (throttle.ts). */
export interface Limits {
  perAccount: RateLimiter
  perAddress: RateLimiter
  signupPerAddress: RateLimiter
  guesses: AccountThrottle
}

export interface AuthDeps {
  db: Kysely<AuthDatabase>
  bus: EventOutbox
  clock: Clock
  logger: Logger
  keys: SigningKeys
  /** Every hash and check goes through the hashing queue. */
  passwords: PasswordChecker
  settings: AuthSettings
  limits: Limits
}
