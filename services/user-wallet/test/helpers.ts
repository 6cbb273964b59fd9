import type { EventData, EventType, Role } from '@tms/contracts'
import { createDb, type Kysely, migrateToLatest, newId, sql, transaction } from '@tms/db'
import { eventFeed, startTestService } from '@tms/kit/testing'
import { createLogger } from '@tms/logging'
import {
  createTestDatabase,
  createTestIssuer,
  type TestClock,
  type TestContext,
} from '@tms/testing'
import type { AppDeps } from '../src/app.ts'
import { migrations } from '../src/db/migrations.ts'
import { findProfile } from '../src/db/profiles.ts'
import type { WalletDatabase } from '../src/db/schema.ts'
import { wallet } from '../src/main.ts'

export const logger = createLogger({
  service: 'user-wallet-test',
  level: process.env.LOG_LEVEL ?? 'silent',
})

/** A migrated wallet database alone, for tests of the handlers without a service. */
export async function walletDb(t: TestContext, poolSize = 20): Promise<Kysely<WalletDatabase>> {
  const db = createDb<WalletDatabase>(await createTestDatabase(t), { poolSize })
  t.teardown(() => db.destroy())
  await migrateToLatest(db, migrations)
  return db
}

export interface WalletServiceOptions {
  clock?: TestClock
  /** Replaces what start() would give the app (Idempotency-Key hooks). */
  overrides?: Partial<AppDeps>
}

export async function walletService(t: TestContext, options: WalletServiceOptions = {}) {
  const issuer = await createTestIssuer()
  const jwksUrl = await issuer.serveJwks(t)
  const feed = eventFeed()
  const service = await startTestService(t, wallet, {
    config: {
      jwtIssuer: issuer.issuer,
      jwksUrl,
      currency: 'usd',
      retryDelaysMs: [50, 100, 200, 400],
    },
    logger,
    clock: options.clock,
    overrides: options.overrides,
    bus: { relay: { pollIntervalMs: 50 }, reconnectMs: 200, onProcessed: feed.onProcessed },
  })
  const { db } = service
  await feed.connect(t, service)
  return {
    ...service,
    /**
     * An access token for the user. An admin is an admin in the wallet only when its profile
     * here says so too (as auth's events make it): for an admin without a profile, one is
     * made, unless `withProfile` is false.
     */
    async token(
      user: { id: string; role: Role; username?: string },
      { withProfile = true } = {},
    ): Promise<string> {
      if (user.role === 'admin' && withProfile && !(await findProfile(db, 'user_id', user.id))) {
        await addUser(db, user.id, 'admin')
      }
      return issuer.mint({
        sub: user.id,
        role: user.role,
        username: user.username ?? `u_${user.id}`.slice(0, 32),
      })
    },
    /** Publishes an event as its producer would (e.g. academic); returns its id. */
    publish: <T extends EventType>(type: T, data: EventData<T>, copies = 1) =>
      feed.publish(type, data, { copies, producer: 'academic' }),
    /** Waits until the booking consumer has handled n events in all, every copy settled. */
    handled: (n: number) => feed.handled('user-wallet.booking', n),
  }
}

export type WalletService = Awaited<ReturnType<typeof walletService>>

/** A profile and wallet as the registered event would make them. */
export async function addUser(db: Kysely<WalletDatabase>, id: string, role: Role = 'student') {
  const now = new Date()
  await transaction(db, async (trx) => {
    await trx
      .insertInto('profile')
      .values({
        user_id: id,
        username: `user_${id}`.toLowerCase().slice(0, 32),
        email: `${id}@example.com`.toLowerCase(),
        name: null,
        phone: null,
        role,
        created_at: now,
        updated_at: now,
      })
      .execute()
    await sql`INSERT INTO account (id, user_id, kind, balance) VALUES (${newId()}, ${id}, 'available', 0), (${newId()}, ${id}, 'held', 0)`.execute(
      trx,
    )
  })
}

export async function balances(db: Kysely<WalletDatabase>, userId: string) {
  const rows = await db
    .selectFrom('account')
    .select(['kind', 'balance'])
    .where('user_id', '=', userId)
    .execute()
  const of = (kind: string) => Number(rows.find((r) => r.kind === kind)?.balance ?? 0)
  return { available: of('available'), held: of('held') }
}

/**
 * The ledger's invariants: every transaction's entries sum to zero, no account but external is
 * negative, and every cached balance (all but external) equals the sum of its entries.
 */
export async function ledgerProblems(db: Kysely<WalletDatabase>): Promise<string[]> {
  const problems: string[] = []
  const unbalanced = await sql<{ transaction_id: string; total: number }>`
    SELECT transaction_id, SUM(amount) AS total FROM entry GROUP BY transaction_id HAVING SUM(amount) <> 0`.execute(
    db,
  )
  for (const r of unbalanced.rows)
    problems.push(`transaction ${r.transaction_id} sums to ${r.total}`)
  const accounts = await sql<{ id: string; kind: string; balance: number; total: number | null }>`
    SELECT a.id, a.kind, a.balance, (SELECT SUM(e.amount) FROM entry e WHERE e.account_id = a.id) AS total
    FROM account a`.execute(db)
  for (const a of accounts.rows) {
    const total = Number(a.total ?? 0)
    if (a.kind !== 'external' && total < 0) problems.push(`account ${a.id} (${a.kind}) is ${total}`)
    if (a.kind !== 'external' && Number(a.balance) !== total) {
      problems.push(`account ${a.id} caches ${a.balance} but its entries sum to ${total}`)
    }
  }
  return problems
}
