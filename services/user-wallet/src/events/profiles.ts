// 'user-wallet.profiles': the profile copy follows the auth service's account events.
import { type Bus, type Handlers, RetryLater } from '@tms/bus'
import { type ConsumerEventType, normalizeEmail } from '@tms/contracts'
import type { Transaction } from '@tms/db'
import { sql } from 'kysely'
import type { WalletDatabase } from '../db/schema.ts'
import { ensureWallet } from '../ledger.ts'

type Trx = Transaction<WalletDatabase>

export const profileHandlers: Handlers<
  WalletDatabase,
  ConsumerEventType<'user-wallet.profiles'>
> = {
  async 'auth.user.registered'({ data: d }, trx) {
    const now = new Date()
    const email = normalizeEmail(d.email)
    // Upsert by user_id: a profile an admin made with POST /user/create is brought in line.
    await sql`INSERT INTO profile (user_id, username, email, name, phone, role, created_at, updated_at)
      VALUES (${d.user_id}, ${d.username}, ${email}, ${d.name}, ${d.phone}, ${d.role}, ${now}, ${now})
      ON DUPLICATE KEY UPDATE username = VALUES(username), email = VALUES(email),
        name = VALUES(name), phone = VALUES(phone), role = VALUES(role),
        updated_at = VALUES(updated_at)`.execute(trx)
    await ensureWallet(trx, d.user_id)
  },

  async 'auth.user.role-changed'({ data: d }, trx) {
    const result = await trx
      .updateTable('profile')
      .set({ role: d.role, updated_at: new Date() })
      .where('user_id', '=', d.user_id)
      .executeTakeFirst()
    if (result.numUpdatedRows === 0n) await missing(trx, d.user_id)
  },

  async 'auth.user.email-changed'({ data: d }, trx) {
    const result = await trx
      .updateTable('profile')
      .set({ email: normalizeEmail(d.email), updated_at: new Date() })
      .where('user_id', '=', d.user_id)
      .executeTakeFirst()
    if (result.numUpdatedRows === 0n) await missing(trx, d.user_id)
  },
}

async function missing(trx: Trx, userId: string): Promise<void> {
  const found = await trx
    .selectFrom('profile')
    .select('user_id')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  // The driver may count only changed rows: an unchanged existing row is fine.
  if (found) return
  throw new RetryLater(`no profile for ${userId} yet; retrying after its registration`)
}

export function subscribeProfiles(bus: Pick<Bus<WalletDatabase>, 'subscribe'>): void {
  bus.subscribe('user-wallet.profiles', profileHandlers)
}
