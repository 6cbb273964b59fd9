// What the bus's guarantees cost: the whole path (outbox write in a producer transaction →
// relay → broker → consumer with inbox → committed effect) against publishing straight to the
// exchange with confirms and consuming without an inbox. Prints events/s and p50/p99 latency
// from the producer's start to the committed (or handled) effect.
//   EVENTS=3000 CONCURRENCY=8 scripts/tms bench
import { performance } from 'node:perf_hooks'
import { type BusTables, busMigrations, createBus, exchangeName } from '@tms/bus'
import { type Envelope, type EventData, makeEnvelope, parseEnvelope } from '@tms/contracts'
import { createDb, migrateToLatest, sql, transaction } from '@tms/db'
import { createLogger } from '@tms/logging'
import { createTestBroker, createTestDatabase } from '@tms/testing'
import amqplib from 'amqplib'

const EVENTS = Number(process.env.EVENTS ?? 3000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8)
const consumer = 'bench.effects'
const topology = { [consumer]: ['auth.user.registered'] } as const
const logger = createLogger({ service: 'bench', level: 'warn' })
const cleanups: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) }

function user(n: number): EventData<'auth.user.registered'> {
  return {
    user_id: `u${n}`,
    username: `user_${n}`,
    email: `u${n}@example.com`,
    role: 'student',
    name: null,
    phone: null,
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

function report(name: string, seconds: number, latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const perSecond = EVENTS / seconds
  console.log(
    `${name.padEnd(28)} ${perSecond.toFixed(0).padStart(7)} events/s   p50 ${percentile(sorted, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(sorted, 99).toFixed(1).padStart(7)} ms`,
  )
  return perSecond
}

type BenchDb = BusTables & { effect: { event_id: string; n: number } }

async function serviceDb() {
  const db = createDb<BenchDb>(await createTestDatabase(t), { poolSize: CONCURRENCY + 4 })
  t.teardown(() => db.destroy())
  await migrateToLatest(db, {
    ...busMigrations,
    '0001_effect': {
      async up(db) {
        await sql`CREATE TABLE effect (event_id CHAR(36) PRIMARY KEY, n INT NOT NULL)`.execute(db)
      },
    },
  })
  return db
}

/** Runs `count` jobs with at most CONCURRENCY at a time. */
async function pool(count: number, job: (i: number) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await job(next++)
    }),
  )
}

/** When each event started, how long each took to take effect, and when all of them have. */
function tracker() {
  const started = new Map<string, number>()
  const latencies: number[] = []
  let finished = 0
  let done!: () => void
  const all = new Promise<void>((r) => {
    done = r
  })
  return {
    latencies,
    all,
    start(i: number) {
      started.set(`u${i}`, performance.now())
    },
    finish(event: Envelope) {
      if (event.type !== 'auth.user.registered') return
      const begin = started.get(event.data.user_id)
      if (begin !== undefined) latencies.push(performance.now() - begin)
      if (++finished === EVENTS) done()
    },
  }
}

async function withOutbox(): Promise<number> {
  const broker = await createTestBroker()
  const producerDb = await serviceDb()
  const consumerDb = await serviceDb()
  const events = tracker()
  const common = {
    url: broker.url,
    prefix: broker.prefix,
    logger,
    topology,
    relay: { pollIntervalMs: 50 },
  }
  const producer = createBus({ ...common, service: 'bench', db: producerDb })
  const consuming = createBus({
    ...common,
    service: 'bench',
    db: consumerDb,
    relay: { enabled: false },
    prefetch: 50,
    onProcessed(outcome, event) {
      // Called once the effect and the inbox record have committed and the message is acked.
      if (outcome === 'handled' && event) events.finish(event)
    },
  })
  consuming.subscribe(consumer, {
    'auth.user.registered': async (event, trx) => {
      await sql`INSERT INTO effect (event_id, n) VALUES (${event.id}, 1)`.execute(trx)
    },
  })
  await consuming.start()
  await producer.start()
  t.teardown(async () => {
    await producer.close()
    await consuming.close()
    await consuming.deleteTopology()
  })

  const t0 = performance.now()
  await pool(EVENTS, async (i) => {
    events.start(i)
    await transaction(producerDb, (trx) => producer.enqueue(trx, 'auth.user.registered', user(i)))
  })
  await events.all
  return report('outbox → relay → inbox', (performance.now() - t0) / 1000, events.latencies)
}

async function direct(): Promise<number> {
  const broker = await createTestBroker()
  const db = await serviceDb()
  const conn = await amqplib.connect(broker.url)
  const ch = await conn.createConfirmChannel()
  const queue = `${broker.prefix}${consumer}`
  await ch.assertExchange(exchangeName(broker.prefix), 'topic', { durable: true })
  await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
  await ch.bindQueue(queue, exchangeName(broker.prefix), 'auth.user.registered')
  t.teardown(async () => {
    await ch.deleteQueue(queue)
    await ch.deleteExchange(exchangeName(broker.prefix))
    await conn.close()
  })
  const consumeCh = await conn.createChannel()
  await consumeCh.prefetch(50)
  const events = tracker()
  await consumeCh.consume(queue, async (msg) => {
    if (!msg) return
    const event = parseEnvelope(JSON.parse(msg.content.toString()))
    await sql`INSERT INTO effect (event_id, n) VALUES (${event.id}, 1)`.execute(db)
    consumeCh.ack(msg)
    events.finish(event)
  })

  const t0 = performance.now()
  await pool(EVENTS, async (i) => {
    events.start(i)
    const envelope = makeEnvelope('auth.user.registered', user(i), { producer: 'bench' })
    ch.publish(exchangeName(broker.prefix), envelope.type, Buffer.from(JSON.stringify(envelope)), {
      persistent: true,
      messageId: envelope.id,
    })
    await ch.waitForConfirms()
  })
  await events.all
  return report('direct publish, no inbox', (performance.now() - t0) / 1000, events.latencies)
}

try {
  console.log(`${EVENTS} events, ${CONCURRENCY} concurrent producers, Node ${process.version}`)
  const guarded = await withOutbox()
  const plain = await direct()
  console.log(
    `the guarantees cost: ${(plain / guarded).toFixed(2)}x the throughput of the plain path`,
  )
} finally {
  for (const fn of cleanups) await fn()
}
