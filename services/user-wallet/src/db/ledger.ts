// The ledger's queries. Posting a movement runs inside the caller's transaction: it locks
// the touched accounts in one fixed order (by id), so two postings never wait on each other in
// a cycle, checks the balances after the movement with the pure rules, then appends the
// transaction and its entries and moves the cached balances.
//
// The external account is neither locked nor cached: every deposit and debit touches it, and
// a lock on it would serialise all of them across all wallets. It may go negative anyway, so
// nothing needs its balance under a lock; its balance is the sum of its entries.
import { type Kysely, newId, sql, type Transaction } from '@tms/db'
import { type AccountRef, accountKey, applyMovement, type Movement } from '../domain/ledger.ts'
import { EXTERNAL_ACCOUNT_ID, PLATFORM_ACCOUNT_ID } from './migrations.ts'
import type { LedgerTransactionTable, WalletDatabase } from './schema.ts'

type Trx = Transaction<WalletDatabase>

export interface PostingMeta {
  now: Date
  sessionId?: string | null
  actorId?: string | null
  reason?: string | null
  reference?: string | null
}

export interface Posted {
  transactionId: string
  /** Balances after the movement of the accounts it touched (not external). */
  balances: Map<string, number>
}

/** Makes the user's two accounts if missing; harmless when they exist. */
export async function ensureWallet(trx: Trx, userId: string): Promise<void> {
  await sql`INSERT IGNORE INTO account (id, user_id, kind, balance)
            VALUES (${newId()}, ${userId}, 'available', 0), (${newId()}, ${userId}, 'held', 0)`.execute(
    trx,
  )
}

async function accountIds(trx: Trx, refs: AccountRef[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>()
  const userIds = new Set<string>()
  for (const ref of refs) {
    if ('userId' in ref) userIds.add(ref.userId)
    else if (ref.kind === 'platform') ids.set(accountKey(ref), PLATFORM_ACCOUNT_ID)
    else ids.set(accountKey(ref), EXTERNAL_ACCOUNT_ID)
  }
  for (const userId of userIds) await ensureWallet(trx, userId)
  if (userIds.size > 0) {
    const rows = await trx
      .selectFrom('account')
      .select(['id', 'user_id', 'kind'])
      .where('user_id', 'in', [...userIds])
      .execute()
    for (const row of rows) ids.set(`${row.kind}:${row.user_id}`, row.id)
  }
  return ids
}

/** Posts the movement in trx; throws InsufficientFundsError (and writes nothing) if refused. */
export async function post(trx: Trx, movement: Movement, meta: PostingMeta): Promise<Posted> {
  const refs = movement.entries.map((e) => e.account)
  const ids = await accountIds(trx, refs)
  const lockedIds = [
    ...new Set(refs.filter((r) => r.kind !== 'external').map((r) => ids.get(accountKey(r)))),
  ].filter((id): id is string => id !== undefined)

  const balances = new Map<string, number>()
  if (lockedIds.length > 0) {
    const rows = await trx
      .selectFrom('account')
      .select(['id', 'balance'])
      .where('id', 'in', lockedIds)
      .orderBy('id')
      .forUpdate()
      .execute()
    const byId = new Map(rows.map((r) => [r.id, Number(r.balance)]))
    for (const ref of refs) {
      const id = ids.get(accountKey(ref))
      if (id !== undefined && byId.has(id)) balances.set(accountKey(ref), byId.get(id) as number)
    }
  }
  const after = applyMovement(balances, movement)

  const transaction: LedgerTransactionTable = {
    id: newId(),
    kind: movement.kind,
    session_id: meta.sessionId ?? null,
    actor_id: meta.actorId ?? null,
    reason: meta.reason ?? null,
    reference: meta.reference ?? null,
    created_at: meta.now,
  }
  await trx.insertInto('ledger_transaction').values(transaction).execute()
  if (movement.entries.length > 0) {
    await trx
      .insertInto('entry')
      .values(
        movement.entries.map((e) => ({
          id: newId(),
          transaction_id: transaction.id,
          account_id: ids.get(accountKey(e.account)) as string,
          amount: e.amount,
        })),
      )
      .execute()
  }
  for (const [key, balance] of after) {
    const id = ids.get(key)
    if (id === undefined) continue
    await trx.updateTable('account').set({ balance }).where('id', '=', id).execute()
  }
  return { transactionId: transaction.id, balances: after }
}

export interface WalletBalance {
  balance: number
  available_balance: number
}

/** balance = available + held; zero for a user without accounts yet. */
export async function walletBalance(
  db: Trx | Kysely<WalletDatabase>,
  userId: string,
): Promise<WalletBalance> {
  const rows = await db
    .selectFrom('account')
    .select(['kind', 'balance'])
    .where('user_id', '=', userId)
    .execute()
  const available = Number(rows.find((r) => r.kind === 'available')?.balance ?? 0)
  const held = Number(rows.find((r) => r.kind === 'held')?.balance ?? 0)
  return { balance: available + held, available_balance: available }
}

/** A page of a wallet's entries, newest first (ids are time-ordered), before `cursor`. */
export async function ledgerEntries(
  db: Kysely<WalletDatabase>,
  userId: string,
  page: { limit: number; cursor?: string },
) {
  let query = db
    .selectFrom('entry')
    .innerJoin('account', 'account.id', 'entry.account_id')
    .innerJoin('ledger_transaction as tx', 'tx.id', 'entry.transaction_id')
    .select([
      'entry.id',
      'entry.transaction_id',
      'entry.amount',
      'account.kind as account',
      'tx.kind',
      'tx.session_id',
      'tx.actor_id',
      'tx.reason',
      'tx.reference',
      'tx.created_at',
    ])
    .where('account.user_id', '=', userId)
    .orderBy('entry.id', 'desc')
    .limit(page.limit)
  if (page.cursor) query = query.where('entry.id', '<', page.cursor)
  return query.execute()
}
