// A wallet service of the test's own: its database, the app with a verifier for a test issuer,
// and ledger invariants every test checks at the end.
import { type Bus, createBus, exchangeName } from '@tms/bus'
import { systemClock } from '@tms/clock'
import { type EventData, type EventType, makeEnvelope, type Role } from '@tms/contracts'
import { createDb, type Kysely, migrateToLatest, newId, sql, transaction } from '@tms/db'
import type { App } from '@tms/http'
import { createAccessTokenVerifier } from '@tms/jwt'
import { createLogger } from '@tms/logging'
import {
  createTestBroker,
  createTestDatabase,
  createTestIssuer,
  eventually,
  type TestContext,
} from '@tms/testing'
import amqplib from 'amqplib'
import { type AppDeps, buildApp } from '../src/app.ts'
import { migrations } from '../src/db/migrations.ts'
import type { Role as ProfileRole, WalletDatabase } from '../src/db/schema.ts'
import { subscribeBooking } from '../src/events/booking.ts'
import { subscribeProfiles } from '../src/events/profiles.ts'
import { findProfile } from '../src/profiles.ts'

export const logger = createLogger({
  service: 'user-wallet-test',
  level: process.env.LOG_LEVEL ?? 'silent',
})

export async function walletDb(t: TestContext, poolSize = 20): Promise<Kysely<WalletDatabase>> {
  const db = createDb<WalletDatabase>(await createTestDatabase(t), { poolSize })
  t.teardown(() => db.destroy())
  await migrateToLatest(db, migrations)
  return db
}

export interface TestService {
  db: Kysely<WalletDatabase>
  app: App
  /**
   * An access token for the user. An admin is an admin in the wallet only when its profile
   * here says so too (as auth's events make it): for an admin without a profile, one is made,
   * unless `withProfile` is false.
   */
  token(
    user: { id: string; role: Role; username?: string },
    options?: { withProfile?: boolean },
  ): Promise<string>
}

export async function walletService(
  t: TestContext,
  overrides: Partial<Pick<AppDeps, 'clock' | 'idempotency'>> = {},
): Promise<TestService> {
  const db = await walletDb(t)
  const issuer = await createTestIssuer()
  const broker = await createTestBroker()
  const app = await buildApp({
    db,
    clock: systemClock,
    ...overrides,
    // Not started: readiness reports the broker disconnected, which does not fail it.
    bus: createBus({ service: 'user-wallet', url: broker.url, prefix: broker.prefix, db, logger }),
    verifyAccessToken: createAccessTokenVerifier({
      issuer: issuer.issuer,
      keys: { jwks: issuer.jwks },
    }),
    settings: { currency: 'usd' },
    logger,
  })
  t.teardown(() => app.close())
  return {
    db,
    app,
    async token(user, { withProfile = true } = {}) {
      if (user.role === 'admin' && withProfile && !(await findProfile(db, 'user_id', user.id))) {
        await addUser(db, user.id, 'admin')
      }
      return issuer.mint({
        sub: user.id,
        role: user.role,
        username: user.username ?? `u_${user.id}`.slice(0, 32),
      })
    },
  }
}

/** A profile and wallet as the registered event would make them. */
export async function addUser(
  db: Kysely<WalletDatabase>,
  id: string,
  role: ProfileRole = 'student',
) {
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

export interface SagaHarness {
  db: Kysely<WalletDatabase>
  bus: Bus
  /** Publishes an academic event as the academic service would; returns its envelope. */
  publish<T extends EventType>(type: T, data: EventData<T>, copies?: number): Promise<string>
  /** Waits until the booking consumer has handled n events in all. */
  handled(n: number): Promise<void>
}

/** The wallet's consumers on a broker of the test's own, on a new database or the one given. */
export async function sagaHarness(
  t: TestContext,
  existing?: Kysely<WalletDatabase>,
): Promise<SagaHarness> {
  const db = existing ?? (await walletDb(t))
  const broker = await createTestBroker()
  const bus = createBus({
    service: 'user-wallet',
    url: broker.url,
    prefix: broker.prefix,
    db,
    logger,
    retryDelaysMs: [50, 100, 200, 400],
    relay: { pollIntervalMs: 50 },
    reconnectMs: 200,
    onProcessed(outcome) {
      // Retried and deferred copies come back; the others are done with.
      if (outcome !== 'retried' && outcome !== 'deferred') settled++
    },
  })
  // Messages published by the test, and those the bus has finished with (handled, ignored as
  // duplicates, or parked): handled() waits for both, so a second copy is never still in flight.
  let sent = 0
  let settled = 0
  subscribeProfiles(bus)
  subscribeBooking(bus)
  t.teardown(async () => {
    await bus.close()
    await bus.deleteTopology()
  })
  await bus.start()
  const conn = await amqplib.connect(broker.url)
  const channel = await conn.createConfirmChannel()
  t.teardown(() => conn.close())
  return {
    db,
    bus,
    async publish(type, data, copies = 1) {
      const envelope = makeEnvelope(type, data, { producer: 'academic' })
      for (let i = 0; i < copies; i++) {
        sent++
        channel.publish(exchangeName(broker.prefix), type, Buffer.from(JSON.stringify(envelope)), {
          persistent: true,
          messageId: envelope.id,
        })
      }
      await channel.waitForConfirms()
      return envelope.id
    },
    async handled(n) {
      await eventually(
        async () => {
          const r = await db
            .selectFrom('bus_inbox')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('consumer', '=', 'user-wallet.booking')
            .executeTakeFirstOrThrow()
          return Number(r.n) >= n && settled >= sent
        },
        { what: `${n} booking events handled and every copy settled` },
      )
    },
  }
}
