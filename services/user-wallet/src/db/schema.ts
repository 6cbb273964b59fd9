import type { BusTables } from '@tms/bus'
import type { Role } from '@tms/contracts'
import type { IdempotencyTables } from '@tms/idempotency'
import type { HoldStatus } from '../domain/booking.ts'
import type { AccountKind, TransactionKind } from '../domain/ledger.ts'

/** A copy of the auth service's account, kept current by its events. */
export interface ProfileTable {
  user_id: string
  username: string
  /** Lowercase. */
  email: string
  name: string | null
  phone: string | null
  role: Role
  created_at: Date
  updated_at: Date
}

export interface AccountTable {
  id: string
  /** Null for the system accounts (platform, external). */
  user_id: string | null
  kind: AccountKind
  /**
   * The sum of the account's entries, kept in step under the row lock. Not kept for
   * `external` (see db/ledger.ts): its balance is the sum of its entries.
   */
  balance: number
}

export interface LedgerTransactionTable {
  id: string
  kind: TransactionKind
  session_id: string | null
  /** The admin who moved money by hand; null for the saga. */
  actor_id: string | null
  reason: string | null
  reference: string | null
  created_at: Date
}

/** Append-only: never updated or deleted. */
export interface EntryTable {
  id: string
  transaction_id: string
  account_id: string
  amount: number
}

export interface SessionHoldTable {
  session_id: string
  student_id: string | null
  revision: number
  amount: number
  status: HoldStatus
  updated_at: Date
}

export interface WalletDatabase extends BusTables, IdempotencyTables {
  profile: ProfileTable
  account: AccountTable
  ledger_transaction: LedgerTransactionTable
  entry: EntryTable
  session_hold: SessionHoldTable
}
