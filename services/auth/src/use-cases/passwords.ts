// Passwords: checking one as an attempt on its account, changing it, and resetting it with a
// mailed code. A new password, however it comes, replaces the hash, revokes every refresh
// token and drops any reset code: replacePassword, written once.
import { setTimeout as sleep } from 'node:timers/promises'
import { normalizeEmail } from '@tms/contracts'
import { type Transaction, transaction } from '@tms/db'
import { enqueueMail } from '../db/mail.ts'
import { revokeAllOf } from '../db/refresh-tokens.ts'
import { countTry, dropResetCode, lockResetCodeByEmail, saveResetCode } from '../db/reset-codes.ts'
import type { AuthDatabase, UsersTable } from '../db/schema.ts'
import { findUserById, findUserByLogin, setPasswordHash } from '../db/users.ts'
import {
  AccountGoneError,
  InvalidResetCodeError,
  WeakPasswordError,
  WrongCurrentPasswordError,
} from '../domain/errors.ts'
import { checkOtp, generateOtp, NO_OTP, otpHash } from '../domain/otp.ts'
import { passwordProblem } from '../domain/password.ts'
import { enforceAddressLimit, enforceRateLimits } from '../domain/rate-limit.ts'
import type { AuthDeps } from './deps.ts'

type Trx = Transaction<AuthDatabase>

/** An id no account has (ids are UUIDs): what a lookup for nobody works with. */
const NO_ACCOUNT = '00000000-0000-0000-0000-000000000000'

/**
 * Checks a password as one attempt on the account: refused (TooManyAttemptsError) before any
 * hashing when the account's allowance says so (domain/throttle.ts), counted when wrong.
 */
export async function checkPasswordAttempt(
  deps: AuthDeps,
  attempt: { account: string; address: string; password: string; hash: string | undefined },
): Promise<boolean> {
  const reserved = deps.limits.guesses.reserve(attempt.account, attempt.address)
  let ok: boolean
  try {
    ok = await deps.passwords.check(attempt.password, attempt.hash)
  } catch (err) {
    reserved.abandoned()
    throw err
  }
  if (ok) reserved.succeeded()
  else reserved.failed()
  return ok
}

/** The caller's account, its current password checked as a guess would be. */
export async function accountWithPassword(
  deps: AuthDeps,
  callerId: string,
  currentPassword: string,
  address: string,
): Promise<UsersTable> {
  enforceAddressLimit(deps.limits.perAddress, 'password', address)
  const user = await findUserById(deps.db, callerId)
  if (!user) throw new AccountGoneError()
  const ok = await checkPasswordAttempt(deps, {
    account: `user:${user.id}`,
    address,
    password: currentPassword,
    hash: user.password_hash,
  })
  if (!ok) throw new WrongCurrentPasswordError()
  return user
}

/** The one way a password changes: new hash, every refresh token revoked, no reset code left. */
async function replacePassword(trx: Trx, userId: string, hash: string, now: Date) {
  await setPasswordHash(trx, userId, hash, now)
  await revokeAllOf(trx, userId, now)
  await dropResetCode(trx, userId)
}

export async function changePassword(
  deps: AuthDeps,
  callerId: string,
  change: { current_password: string; new_password: string },
  address: string,
): Promise<void> {
  const user = await accountWithPassword(deps, callerId, change.current_password, address)
  const weak = passwordProblem(change.new_password, user)
  if (weak) throw new WeakPasswordError('new_password', weak)
  const hash = await deps.passwords.hash(change.new_password)
  await transaction(deps.db, (trx) => replacePassword(trx, user.id, hash, deps.clock.now()))
}

/**
 * Runs `work` of a reset-code route and answers (or refuses) no sooner than otpRequestMinMs
 * after the start, whatever the email: the paths differ in their database work (an unknown
 * email writes nothing; a wrong try on a live code commits a count, which flushes the redo
 * log), and the time must not tell which one ran.
 */
async function noSoonerThan<T>(minMs: number, work: () => Promise<T>): Promise<T> {
  const answerNotBefore = performance.now() + minMs
  try {
    return await work()
  } finally {
    const early = answerNotBefore - performance.now()
    if (early > 0) await sleep(early)
  }
}

/**
 * Mails a reset code when the email belongs to an account; answers no sooner than
 * otpRequestMinMs after the start either way, so the time does not tell which emails do.
 */
export async function requestResetCode(
  deps: AuthDeps,
  email: string,
  address: string,
): Promise<void> {
  const normalized = normalizeEmail(email)
  enforceRateLimits(deps.limits, 'otp', normalized, address)
  await noSoonerThan(deps.settings.otpRequestMinMs, () => mailResetCode(deps, normalized))
}

async function mailResetCode(deps: AuthDeps, normalized: string): Promise<void> {
  const { settings } = deps
  const user = await findUserByLogin(deps.db, 'email', normalized)
  if (user) {
    const code = generateOtp()
    await transaction(deps.db, async (trx) => {
      const now = deps.clock.now()
      await saveResetCode(trx, user.id, {
        code_hash: otpHash(settings.otpSecret, user.id, code),
        expires_at: new Date(now.getTime() + settings.otpTtlSeconds * 1000),
        failed_attempts: 0,
        created_at: now,
      })
      const minutes = Math.round(settings.otpTtlSeconds / 60)
      await enqueueMail(
        trx,
        {
          to: normalized,
          subject: 'Your password reset code',
          text: `Your password reset code for ${user.username} is ${code}. It is valid for ${minutes} minutes and can be used once. If you did not ask for it, ignore this message.`,
        },
        now,
      )
    })
  }
}

/**
 * Checks the email's code, counting a wrong one, then runs `use` in the same transaction when
 * it is valid. The same work whether or not the email has a live code, so the time to answer
 * does not tell: one locking SELECT, one HMAC (against a placeholder without a code), one
 * UPDATE (which counts a wrong try, or changes nothing), then the commit.
 */
async function withResetCode<T>(
  deps: AuthDeps,
  email: string,
  code: string,
  use: (trx: Trx, userId: string) => Promise<T>,
): Promise<T> {
  const outcome = await transaction(deps.db, async (trx) => {
    const stored = await lockResetCodeByEmail(trx, email)
    const userId = stored?.user_id ?? NO_ACCOUNT
    const check = checkOtp(
      stored ?? NO_OTP,
      deps.settings.otpSecret,
      userId,
      code,
      deps.clock.now(),
    )
    await countTry(trx, userId, stored !== undefined && check === 'wrong')
    if (!stored || check !== 'valid') return { valid: false as const }
    return { valid: true as const, result: await use(trx, stored.user_id) }
  })
  if (!outcome.valid) throw new InvalidResetCodeError()
  return outcome.result
}

/** Whether a code is valid, without spending it; a wrong one counts as a try. */
export async function verifyResetCode(
  deps: AuthDeps,
  query: { email: string; otp: string },
  address: string,
): Promise<void> {
  const email = normalizeEmail(query.email)
  enforceRateLimits(deps.limits, 'verify', email, address)
  await noSoonerThan(deps.settings.otpRequestMinMs, () =>
    withResetCode(deps, email, query.otp, async () => undefined),
  )
}

/** Spends the code and sets the new password (a weak one leaves the code unspent). */
export async function resetPassword(
  deps: AuthDeps,
  reset: { email: string; otp: string; new_password: string },
  address: string,
): Promise<void> {
  const email = normalizeEmail(reset.email)
  enforceRateLimits(deps.limits, 'reset', email, address)
  await noSoonerThan(deps.settings.otpRequestMinMs, async () => {
    // Hashed before the code is checked, so a wrong code costs the same time as a right one.
    const hash = await deps.passwords.hash(reset.new_password)
    await withResetCode(deps, email, reset.otp, async (trx, userId) => {
      const user = await findUserById(trx, userId)
      if (!user) throw new InvalidResetCodeError()
      const weak = passwordProblem(reset.new_password, user)
      // Thrown inside: the transaction rolls back and the code stays as it was.
      if (weak) throw new WeakPasswordError('new_password', weak)
      await replacePassword(trx, userId, hash, deps.clock.now())
    })
  })
}
