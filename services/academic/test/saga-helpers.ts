// The booking saga end to end: this academic service and the user-wallet service, both started
// as their main.ts starts them (the kit's startTestService; the wallet's from
// services/user-wallet/src), in this process, each with its own database, on one broker prefix.
// With `chaos`, neither service's relay runs: a republisher of the test's own takes both
// outboxes and publishes every event twice, each copy after a random delay, so events arrive
// duplicated and out of order.
import { type Bus, type BusTables, exchangeName, type Outcome } from '@tms/bus'
import type { Envelope, Role } from '@tms/contracts'
import { type Kysely, transaction } from '@tms/db'
import { startTestService } from '@tms/kit/testing'
import { eventually, type TestContext } from '@tms/testing'
import amqplib from 'amqplib'
import { post } from '../../user-wallet/src/db/ledger.ts'
import type { WalletDatabase } from '../../user-wallet/src/db/schema.ts'
import { deposit } from '../../user-wallet/src/domain/ledger.ts'
import { wallet } from '../../user-wallet/src/main.ts'
import {
  addUser as addWalletUser,
  balances,
  ledgerProblems,
} from '../../user-wallet/test/helpers.ts'
import { logger } from './helpers.ts'
import { BASE, type SessionsHarness, sessionsHarness } from './sessions-helpers.ts'

export interface BookingSystem {
  academic: SessionsHarness
  wallet: { db: Kysely<WalletDatabase>; bus: Bus<WalletDatabase> }
  /** A user in both services (auth's events would have made them). */
  addUser(id: string, role: Role, funds?: number): Promise<void>
  addTutor(id: string, rate: number): Promise<void>
  fund(userId: string, amount: number): Promise<void>
  balances(userId: string): Promise<{ available: number; held: number }>
  platform(): Promise<number>
  /** The ledger transactions of a session by kind: each money step happens once. */
  moves(sessionId: string): Promise<Record<string, number>>
  /** The wallet's ledger invariants (every transaction sums to zero, no negative account…). */
  ledgerProblems(): Promise<string[]>
  /** Under chaos: copies published, events published after a later one, copies dropped. */
  chaos?: { published: number; inversions: number; duplicates: number }
  /** Polls the session (as an admin) until `check` accepts it. */
  until(
    sessionId: string,
    check: (s: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>>
}

const ADMIN = 'saga-admin'

export interface BookingSystemOptions {
  chaos?: boolean
  seed?: number
  /** Called as the academic service settles each wallet event (for the benchmark's timing). */
  onAcademicEvent?: (outcome: Outcome, event: Envelope | undefined) => void
}

export async function bookingSystem(
  t: TestContext,
  options: BookingSystemOptions = {},
): Promise<BookingSystem> {
  const chaos = options.chaos ?? false
  const retryDelaysMs = [50, 100, 200, 400, 800, 1600, 3200]
  const relay = chaos ? { enabled: false } : { pollIntervalMs: 50 }
  let duplicates = 0
  const onProcessed = (outcome: Outcome) => {
    if (outcome === 'duplicate') duplicates++
  }
  const academic = await sessionsHarness(t, {
    bus: {
      relay,
      retryDelaysMs,
      onProcessed(outcome, event) {
        onProcessed(outcome)
        options.onAcademicEvent?.(outcome, event)
      },
    },
  })

  const walletService = await startTestService(t, wallet, {
    config: { currency: 'usd', retryDelaysMs },
    logger,
    broker: academic.broker,
    bus: { relay, reconnectMs: 200, onProcessed },
  })
  const { db: walletDb, bus: walletBus } = walletService
  const chaosStats = chaos
    ? await startChaos(t, academic, walletDb, options.seed ?? Date.now())
    : undefined

  await academic.addUser(ADMIN, 'admin')
  const system: BookingSystem = {
    academic,
    wallet: { db: walletDb, bus: walletBus },
    chaos: chaosStats && {
      get published() {
        return chaosStats.published
      },
      get inversions() {
        return chaosStats.inversions
      },
      get duplicates() {
        return duplicates
      },
    },
    async addUser(id, role, funds = 0) {
      await academic.addUser(id, role)
      await addWalletUser(walletDb, id, role)
      if (funds > 0) await system.fund(id, funds)
    },
    async addTutor(id, rate) {
      await academic.addTutor(id, rate)
      await addWalletUser(walletDb, id, 'tutor')
    },
    async fund(userId, amount) {
      await transaction(walletDb, (trx) => post(trx, deposit(userId, amount), { now: new Date() }))
    },
    balances: (userId) => balances(walletDb, userId),
    async platform() {
      // The platform's balance is spread over sub-accounts (captures at once take different
      // ones): the sum of every account of kind `platform`.
      const row = await walletDb
        .selectFrom('account')
        .select((eb) => eb.fn.sum<number>('balance').as('total'))
        .where('kind', '=', 'platform')
        .executeTakeFirstOrThrow()
      return Number(row.total)
    },
    async moves(sessionId) {
      const rows = await walletDb
        .selectFrom('ledger_transaction')
        .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
        .where('session_id', '=', sessionId)
        .groupBy('kind')
        .execute()
      return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]))
    },
    ledgerProblems: () => ledgerProblems(walletDb),
    async until(sessionId, check, what) {
      let last: Record<string, unknown> | undefined
      try {
        return await eventually(
          async () => {
            const res = await academic.call(ADMIN, 'GET', `${BASE}/${sessionId}`)
            last = res.json()
            return last && check(last) ? last : undefined
          },
          { timeoutMs: 20_000, what },
        )
      } catch (err) {
        throw new Error(`${what}; last seen: ${JSON.stringify(last)}`, { cause: err })
      }
    },
  }
  return system
}

/** A seeded generator, so a failing chaos run can be replayed with its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The duplicating, reordering republisher: every 10 ms it takes the unpublished rows of both
 * outboxes (marking them sent) and publishes each envelope twice to the shared exchange, each
 * copy after its own random delay of up to 150 ms.
 */
async function startChaos(
  t: TestContext,
  academic: SessionsHarness,
  walletDb: Kysely<WalletDatabase>,
  seed: number,
) {
  const next = random(seed)
  t.teardown(() => console.log(`# chaos seed ${seed}`))
  const conn = await amqplib.connect(academic.broker.url)
  const channel = await conn.createConfirmChannel()
  const exchange = exchangeName(academic.broker.prefix)
  const inFlight = new Set<Promise<void>>()
  const stats = { published: 0, inversions: 0 }
  let taken = 0
  let lastPublished = -1
  let stopped = false
  const publishLater = (type: string, envelope: string, id: string, order: number) => {
    const sent = new Promise<void>((resolve) => {
      setTimeout(() => {
        if (stopped) return resolve()
        channel.publish(exchange, type, Buffer.from(envelope), {
          persistent: true,
          messageId: id,
        })
        stats.published++
        if (order < lastPublished) stats.inversions++
        lastPublished = Math.max(lastPublished, order)
        resolve()
      }, next() * 150)
    })
    inFlight.add(sent)
    void sent.then(() => inFlight.delete(sent))
  }
  const take = async (db: Kysely<BusTables>) => {
    const rows = await transaction(db, async (trx) => {
      const found = await trx
        .selectFrom('bus_outbox')
        .select(['id', 'type', 'envelope'])
        .where('published_at', 'is', null)
        .orderBy('seq')
        .limit(100)
        .forUpdate()
        .execute()
      if (found.length > 0) {
        await trx
          .updateTable('bus_outbox')
          .set({ published_at: new Date() })
          .where(
            'id',
            'in',
            found.map((r) => r.id),
          )
          .execute()
      }
      return found
    })
    for (const row of rows) {
      const order = taken++
      publishLater(row.type, row.envelope, row.id, order)
      publishLater(row.type, row.envelope, row.id, order)
    }
  }
  const loop = (async () => {
    while (!stopped) {
      await take(academic.db)
      await take(walletDb)
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  t.teardown(async () => {
    stopped = true
    await loop
    await Promise.all(inFlight)
    await channel.waitForConfirms().catch(() => {})
    await conn.close()
  })
  return stats
}
