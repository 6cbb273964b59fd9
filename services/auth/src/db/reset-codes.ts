// Every query on `password_reset_otps`: at most one code per account, kept as an HMAC.
import type { Transaction } from '@tms/db'
import type { StoredOtp } from '../domain/otp.ts'
import type { AuthDatabase } from './schema.ts'

type Trx = Transaction<AuthDatabase>

/** The account's code, replacing any earlier one and its tries. */
export async function saveResetCode(
  trx: Trx,
  userId: string,
  code: StoredOtp & { created_at: Date },
): Promise<void> {
  await trx
    .insertInto('password_reset_otps')
    .values({ user_id: userId, ...code })
    .onDuplicateKeyUpdate(code)
    .execute()
}

/** The code of the account with this email, locked; undefined when it has none. */
export function lockResetCodeByEmail(
  trx: Trx,
  email: string,
): Promise<(StoredOtp & { user_id: string }) | undefined> {
  return trx
    .selectFrom('password_reset_otps')
    .innerJoin('users', 'users.id', 'password_reset_otps.user_id')
    .select([
      'password_reset_otps.user_id',
      'password_reset_otps.code_hash',
      'password_reset_otps.expires_at',
      'password_reset_otps.failed_attempts',
    ])
    .where('users.email', '=', email)
    .forUpdate()
    .executeTakeFirst()
}

/**
 * Counts a wrong try, or changes nothing (adds 0; or matches no row for an id without a code):
 * one UPDATE either way, so the work does not tell whether there was a code to count against.
 */
export async function countTry(trx: Trx, userId: string, wrong: boolean): Promise<void> {
  await trx
    .updateTable('password_reset_otps')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', wrong ? 1 : 0) }))
    .where('user_id', '=', userId)
    .execute()
}

export async function dropResetCode(trx: Trx, userId: string): Promise<void> {
  await trx.deleteFrom('password_reset_otps').where('user_id', '=', userId).execute()
}
