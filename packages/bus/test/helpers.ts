import type { Envelope, EventData } from '@tms/contracts'
import { createDb, type Kysely, migrateToLatest, sql } from '@tms/db'
import { createLogger, type Logger } from '@tms/logging'
import {
  captureLogs,
  createTestBroker,
  createTestDatabase,
  startTcpProxy,
  type TestContext,
} from '@tms/testing'
import amqplib from 'amqplib'
import {
  type Bus,
  type BusOptions,
  type BusTables,
  busMigrations,
  createBus,
  type EventHandler,
  exchangeName,
} from '../src/index.ts'

export interface EffectTable {
  event_id: string
  username: string
  applied: number
}
export type TestDb = BusTables & { effect: EffectTable }

export const logger = createLogger({
  service: 'bus-test',
  level: process.env.LOG_LEVEL ?? 'silent',
})

export const consumer = 'test.effects'
export const topology = { [consumer]: ['auth.user.registered'] } as const
export type TestTopology = typeof topology
export type TestBus = Bus<TestDb, TestTopology>
export type TestBusOptions = Partial<BusOptions<TestDb, TestTopology>>

/** A service database with the bus tables and an `effect` table that counts applications. */
export async function serviceDb(t: TestContext): Promise<Kysely<TestDb>> {
  const db = createDb<TestDb>(await createTestDatabase(t))
  t.teardown(() => db.destroy())
  await migrateToLatest(db, {
    ...busMigrations,
    '0001_effect': {
      async up(db) {
        await sql`CREATE TABLE effect (event_id CHAR(36) PRIMARY KEY, username VARCHAR(64) NOT NULL, applied INT NOT NULL)`.execute(
          db,
        )
      },
    },
  })
  return db
}

/** Records the event; applying one twice would show as applied = 2. */
export async function applyEffect(event: Envelope<'auth.user.registered'>, trx: Kysely<TestDb>) {
  await sql`INSERT INTO effect (event_id, username, applied) VALUES (${event.id}, ${event.data.username}, 1)
            ON DUPLICATE KEY UPDATE applied = applied + 1`.execute(trx)
}

/** applyEffect that takes a few milliseconds, so a backlog builds up behind it. */
export const slowEffect: EventHandler<TestDb, 'auth.user.registered'> = async (event, trx) => {
  await applyEffect(event, trx)
  await new Promise((r) => setTimeout(r, 3))
}

export function user(n: number): EventData<'auth.user.registered'> {
  return {
    user_id: `u${n}`,
    username: `user_${n}`,
    email: `user${n}@example.com`,
    role: 'student',
    name: null,
    phone: null,
  }
}

/** A bus on the test's own prefix; the topology is deleted when the test ends. */
export function testBus(
  t: TestContext,
  db: Kysely<TestDb>,
  broker: { url: string; prefix: string },
  overrides: TestBusOptions = {},
  { deleteTopology = true } = {},
): TestBus {
  const bus = createBus({
    service: 'test',
    url: broker.url,
    prefix: broker.prefix,
    db,
    logger,
    topology,
    retryDelaysMs: [50, 150],
    relay: { pollIntervalMs: 50 },
    reconnectMs: 200,
    ...overrides,
  })
  t.teardown(async () => {
    await bus.close()
    if (deleteTopology) await bus.deleteTopology()
  })
  return bus
}

export async function effects(db: Kysely<TestDb>) {
  return db.selectFrom('effect').selectAll().orderBy('username').execute()
}

/**
 * Two services on one broker prefix, each with its own database: a producer (relay on) and a
 * consumer (relay off) subscribed to `consumer`. Both are started, consumer first.
 */
export async function producerAndConsumer(
  t: TestContext,
  options: {
    producerUrl?: (brokerUrl: string) => string
    producer?: TestBusOptions
    consumer?: TestBusOptions
    handler?: EventHandler<TestDb, 'auth.user.registered'>
  } = {},
) {
  const broker = await createTestBroker()
  const producerDb = await serviceDb(t)
  const consumerDb = await serviceDb(t)
  const producerBroker = { ...broker, url: options.producerUrl?.(broker.url) ?? broker.url }
  const producer = testBus(t, producerDb, producerBroker, options.producer, {
    deleteTopology: producerBroker.url === broker.url,
  })
  const consuming = testBus(t, consumerDb, broker, {
    relay: { enabled: false },
    ...options.consumer,
  })
  consuming.subscribe(consumer, { 'auth.user.registered': options.handler ?? applyEffect })
  await consuming.start()
  await producer.start()
  return { broker, producerDb, consumerDb, producer, consuming }
}

/** A logger whose lines (parsed) the test reads. */
export function capturedLogger(level = 'info'): {
  logger: Logger
  lines: Record<string, unknown>[]
} {
  const { destination, lines } = captureLogs()
  return { logger: createLogger({ service: 'bus-test', level, destination }), lines }
}

/** How many messages wait in a queue, asked on a connection of its own (passive: never creates it). */
export async function readyCount(url: string, queue: string): Promise<number> {
  const conn = await amqplib.connect(url)
  try {
    const channel = await conn.createChannel()
    return (await channel.checkQueue(queue)).messageCount
  } finally {
    await conn.close()
  }
}

/** Publishes raw bytes to the exchange, as a misbehaving or duplicating producer would. */
export async function publishRaw(
  url: string,
  prefix: string,
  routingKey: string,
  body: string,
  messageId?: string,
) {
  const conn = await amqplib.connect(url)
  try {
    const ch = await conn.createConfirmChannel()
    ch.publish(exchangeName(prefix), routingKey, Buffer.from(body), { persistent: true, messageId })
    await ch.waitForConfirms()
  } finally {
    await conn.close()
  }
}

/** A TCP proxy to the broker that the test cuts and restores; closed when the test ends. */
export async function brokerProxy(t: TestContext, brokerUrl: string) {
  const target = new URL(brokerUrl)
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672))
  t.teardown(() => proxy.close())
  return proxy
}

/**
 * A consumer (relay off, not started) whose link to the broker goes through a proxy the test
 * cuts and restores. It leaves the topology to a bus with a direct link to delete.
 */
export async function consumerBehindProxy(
  t: TestContext,
  db: Kysely<TestDb>,
  broker: { url: string; prefix: string },
  handler: EventHandler<TestDb, 'auth.user.registered'> = applyEffect,
  overrides: TestBusOptions = {},
) {
  const proxy = await brokerProxy(t, broker.url)
  const bus = testBus(
    t,
    db,
    { url: proxy.url(broker.url), prefix: broker.prefix },
    { relay: { enabled: false }, ...overrides },
    { deleteTopology: false },
  )
  bus.subscribe(consumer, { 'auth.user.registered': handler })
  return { proxy, bus }
}
