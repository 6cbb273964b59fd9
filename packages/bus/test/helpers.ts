import type { EventData } from '@tms/contracts'
import { createDb, type Kysely, migrateToLatest, sql } from '@tms/db'
import { createLogger } from '@tms/logging'
import { createTestBroker, createTestDatabase, type TestContext } from '@tms/testing'
import {
  type Bus,
  type BusOptions,
  type BusTables,
  busMigrations,
  createBus,
  type EventHandler,
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
export async function applyEffect(event: { id: string; data: unknown }, trx: Kysely<TestDb>) {
  const data = event.data as EventData<'auth.user.registered'>
  await sql`INSERT INTO effect (event_id, username, applied) VALUES (${event.id}, ${data.username}, 1)
            ON DUPLICATE KEY UPDATE applied = applied + 1`.execute(trx)
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
  overrides: Partial<BusOptions> = {},
  { deleteTopology = true } = {},
): Bus {
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
    producer?: Partial<BusOptions>
    handler?: EventHandler<TestDb>
  } = {},
) {
  const broker = await createTestBroker()
  const producerDb = await serviceDb(t)
  const consumerDb = await serviceDb(t)
  const producerBroker = { ...broker, url: options.producerUrl?.(broker.url) ?? broker.url }
  const producer = testBus(t, producerDb, producerBroker, options.producer, {
    deleteTopology: producerBroker.url === broker.url,
  })
  const consuming = testBus(t, consumerDb, broker, { relay: { enabled: false } })
  consuming.subscribe(consumer, options.handler ?? applyEffect)
  await consuming.start()
  await producer.start()
  return { broker, producerDb, consumerDb, producer, consuming }
}
