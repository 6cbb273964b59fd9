// Profiles as the /user routes show them: the stored profile with the wallet's balances.
import type { Kysely, Transaction } from '@tms/db'
import type { ProfileTable, WalletDatabase } from './db/schema.ts'
import { walletBalance } from './ledger.ts'

export interface UserView {
  id: string
  username: string
  email: string
  name: string | null
  phone: string | null
  role: ProfileTable['role']
  balance: number
  available_balance: number
  currency: string
  created_at: string
}

type Db = Kysely<WalletDatabase> | Transaction<WalletDatabase>

export async function userView(db: Db, profile: ProfileTable, currency: string): Promise<UserView> {
  const balances = await walletBalance(db, profile.user_id)
  return {
    id: profile.user_id,
    username: profile.username,
    email: profile.email,
    name: profile.name,
    phone: profile.phone,
    role: profile.role,
    ...balances,
    currency,
    created_at: profile.created_at.toISOString(),
  }
}

export function findProfile(db: Db, column: 'user_id' | 'email' | 'username', value: string) {
  return db.selectFrom('profile').selectAll().where(column, '=', value).executeTakeFirst()
}
