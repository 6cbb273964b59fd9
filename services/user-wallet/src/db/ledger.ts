// The ledger's queries. Posting a movement runs inside the caller's transaction and does the
// least it can while it holds locks (see the README's "Ledger" for the figures):
//   before any lock: the transaction's row (deleted again if the movement is refused) and, for
//     a capture, a platform sub-account taken with SKIP LOCKED (below);
//   one locking read of the wallets of every user the movement touches (both accounts of each,
//     by the unique (user_id, kind) index: the ids need no lookup of their own, the locks are
//     taken in that index's order, the same for every posting, so postings never wait on each
//     other in a cycle, and a missing wallet is made then, not by an INSERT IGNORE on every
//     posting);
//   then the pure rules, one multi-row INSERT of the entries and one UPDATE … CASE of the
//     balances; the balances after come back from the rules, not from another read.
//
// No account that every movement touches is one locked row:
// - `external` (every deposit and debit) is neither locked nor cached: it may go negative, so
//   nothing needs its balance under a lock; its balance is the sum of its entries.
// - `platform` (every capture's fee) is spread over sub-accounts (`platform`, `platform.01` …
//   `platform.15`, kind `platform`), each with its cached balance kept under its own row lock. A
//   capture takes the first one nobody holds (`FOR UPDATE SKIP LOCKED`, so it never waits for
//   another capture); the platform's balance is the sum of the sub-accounts' (platformBalance).
import { type Kysely, newId, sql, type Transaction } from '@tms/db'
import { type AccountRef, accountKey, applyMovement, type Movement } from '../domain/ledger.ts'
import { EXTERNAL_ACCOUNT_ID, PLATFORM_ACCOUNT_ID, PLATFORM_ACCOUNT_IDS } from './migrations.ts'
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
  /**
   * Balances after the movement of the accounts it touched (not external; for platform, the
   * sub-account's that took the fee), by accountKey.
   */
  balances: Map<string, number>
  /** The wallet of a user the movement touched, after it. */
  wallet(userId: string): WalletBalance
}

/** Makes the user's two accounts if missing; harmless when they exist. */
export async function ensureWallet(trx: Trx, userId: string): Promise<void> {
  await ensureWallets(trx, [userId])
}

async function ensureWallets(trx: Trx, userIds: string[]): Promise<void> {
  const rows = userIds.flatMap((userId) => [
    sql`(${newId()}, ${userId}, 'available', 0)`,
    sql`(${newId()}, ${userId}, 'held', 0)`,
  ])
  await sql`INSERT IGNORE INTO account (id, user_id, kind, balance)
            VALUES ${sql.join(rows)}`.execute(trx)
}

interface LockedAccount {
  id: string
  user_id: string
  kind: 'available' | 'held'
  balance: number
}

/** Locks both accounts of each user, in the (user_id, kind) index's order; makes missing ones. */
async function lockWallets(trx: Trx, userIds: string[]): Promise<LockedAccount[]> {
  // FORCE INDEX: a plan that scanned the table instead would lock every row it read.
  const lock = () =>
    sql<LockedAccount>`SELECT id, user_id, kind, balance FROM account FORCE INDEX (account_user_kind)
      WHERE user_id IN (${sql.join(userIds)}) AND kind IN ('available', 'held')
      FOR UPDATE`.execute(trx)
  let { rows } = await lock()
  if (rows.length < userIds.length * 2) {
    // A user with no wallet yet (a capture to a tutor whose registration has not arrived).
    const have = new Set(rows.map((r) => r.user_id))
    await ensureWallets(
      trx,
      userIds.filter((u) => !have.has(u)),
    )
    ;({ rows } = await lock())
  }
  return rows
}

/**
 * A platform sub-account for a capture's fee, locked: the first that no other transaction
 * holds, so captures never queue behind each other here. When every one is held (more
 * concurrent captures than sub-accounts), it waits for one, taken at random.
 */
async function lockPlatformAccount(trx: Trx): Promise<{ id: string; balance: number }> {
  // One range of the primary key (the sub-accounts' ids sort together, after every other
  // account's): a plan that scanned more would lock more.
  const free = await sql<{ id: string; balance: number }>`SELECT id, balance
    FROM account FORCE INDEX (PRIMARY)
    WHERE id BETWEEN ${PLATFORM_ACCOUNT_IDS[0]} AND ${PLATFORM_ACCOUNT_IDS.at(-1)}
    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(trx)
  const anyOne =
    PLATFORM_ACCOUNT_IDS[Math.floor(Math.random() * PLATFORM_ACCOUNT_IDS.length)] ??
    PLATFORM_ACCOUNT_ID
  const row =
    free.rows[0] ??
    (
      await sql<{ id: string; balance: number }>`SELECT id, balance FROM account
        WHERE id = ${anyOne} FOR UPDATE`.execute(trx)
    ).rows[0]
  if (!row) throw new Error('the platform accounts are missing (migration wallet_0003)')
  return { id: row.id, balance: Number(row.balance) }
}

/** Posts the movement in trx; throws InsufficientFundsError (and writes nothing) if refused. */
export async function post(trx: Trx, movement: Movement, meta: PostingMeta): Promise<Posted> {
  const refs = movement.entries.map((e) => e.account)
  const userIds = [...new Set(refs.flatMap((r) => ('userId' in r ? [r.userId] : [])))]

  const transaction: LedgerTransactionTable = {
    id: newId(),
    kind: movement.kind,
    session_id: meta.sessionId ?? null,
    actor_id: meta.actorId ?? null,
    reason: meta.reason ?? null,
    reference: meta.reference ?? null,
    created_at: meta.now,
  }
  // Sent together: mysql2 queues them on the transaction's connection and sends each as soon as
  // the one before is answered, without a turn through this code in between.
  const [, platform, wallets] = await Promise.all([
    trx.insertInto('ledger_transaction').values(transaction).execute(),
    refs.some((r) => r.kind === 'platform') ? lockPlatformAccount(trx) : undefined,
    userIds.length > 0 ? lockWallets(trx, userIds) : [],
  ])
  const ids = new Map<string, string>([['external', EXTERNAL_ACCOUNT_ID]])
  const balances = new Map<string, number>()
  if (platform) {
    ids.set('platform', platform.id)
    balances.set('platform', platform.balance)
  }
  for (const account of wallets) {
    const key = accountKey({ kind: account.kind, userId: account.user_id })
    ids.set(key, account.id)
    balances.set(key, Number(account.balance))
  }

  let after: Map<string, number>
  try {
    after = applyMovement(balances, movement)
  } catch (err) {
    // The caller may go on in this transaction (the saga records a declined hold): the
    // refused movement leaves no transaction behind.
    await trx.deleteFrom('ledger_transaction').where('id', '=', transaction.id).execute()
    throw err
  }

  // Under the locks: the entries and the balances, sent together (one turn, not two).
  const changed = [...after].filter(([key, balance]) => balances.get(key) !== balance)
  const idOf = (key: string) => ids.get(key) as string
  await Promise.all([
    movement.entries.length > 0 &&
      trx
        .insertInto('entry')
        .values(
          movement.entries.map((e) => ({
            id: newId(),
            transaction_id: transaction.id,
            account_id: idOf(accountKey(e.account)),
            amount: e.amount,
          })),
        )
        .execute(),
    changed.length > 0 &&
      sql`UPDATE account FORCE INDEX (PRIMARY) SET balance = CASE id
        ${sql.join(
          changed.map(([key, balance]) => sql`WHEN ${idOf(key)} THEN ${balance}`),
          sql` `,
        )}
      END WHERE id IN (${sql.join(changed.map(([key]) => idOf(key)))})`.execute(trx),
  ])

  const balanceOf = (ref: AccountRef) => {
    const key = accountKey(ref)
    return after.get(key) ?? balances.get(key) ?? 0
  }
  return {
    transactionId: transaction.id,
    balances: after,
    wallet(userId) {
      const available = balanceOf({ kind: 'available', userId })
      return {
        balance: available + balanceOf({ kind: 'held', userId }),
        available_balance: available,
      }
    },
  }
}

/**
 * The two system accounts' balances, as the books define them: platform the sum of its
 * sub-accounts' cached balances (each equal to the sum of its entries), external the sum of
 * its entries (it has no cached balance). Read in one statement, so from one snapshot.
 */
export async function systemBalances(
  db: Trx | Kysely<WalletDatabase>,
): Promise<{ platform: number; external: number }> {
  const { rows } = await sql<{ platform: number | null; external: number | null }>`SELECT
      (SELECT SUM(balance) FROM account WHERE id IN (${sql.join(PLATFORM_ACCOUNT_IDS)})) AS platform,
      (SELECT SUM(amount) FROM entry WHERE account_id = ${EXTERNAL_ACCOUNT_ID}) AS external`.execute(
    db,
  )
  return { platform: Number(rows[0]?.platform ?? 0), external: Number(rows[0]?.external ?? 0) }
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
