// Issue 7 §1: a consumer whose link to the broker is cut and restored, again and again, with a
// backlog waiting in its queue. Every delivery must be settled on the channel it came on; an ack
// sent to (or skipped on) the wrong channel leaves messages unacknowledged until the prefetch is
// full and the consumer stops for good.
import { transaction } from '@tms/db'
import { createTestBroker, eventually } from '@tms/testing'
import t, { type Test } from 'tap'
import { consumerNames } from '../src/index.ts'
import {
  consumer,
  consumerBehindProxy,
  effects,
  readyCount,
  serviceDb,
  slowEffect,
  type TestBus,
  testBus,
  user,
} from './helpers.ts'

/** A producer with its own direct link: publish(n) commits n events and waits until they are sent. */
async function producer(
  t: Parameters<typeof serviceDb>[0],
  broker: { url: string; prefix: string },
) {
  const db = await serviceDb(t)
  const bus = testBus(t, db, broker)
  await bus.start()
  let next = 0
  return {
    get total() {
      return next
    },
    async publish(n: number) {
      await transaction(db, async (trx) => {
        for (let i = 0; i < n; i++) await bus.enqueue(trx, 'auth.user.registered', user(next++))
      })
      await eventually(
        async () => {
          const pending = await db
            .selectFrom('bus_outbox')
            .select('id')
            .where('published_at', 'is', null)
            .execute()
          return pending.length === 0
        },
        { what: 'the events published' },
      )
    },
  }
}

async function handled(db: Parameters<typeof effects>[0]) {
  return (await effects(db)).length
}

/** Ends with every event applied once, nothing unsettled, nothing left in the queue or parked. */
async function expectAllOnce(
  t: Test,
  broker: { url: string; prefix: string },
  db: Parameters<typeof effects>[0],
  total: number,
  buses: TestBus[],
) {
  await eventually(async () => (await handled(db)) === total, {
    timeoutMs: 60_000,
    what: `all ${total} events handled`,
  })
  for (const bus of buses) {
    await eventually(() => bus.status().consumers.every((c) => c.unsettled === 0), {
      what: 'every delivery settled',
    })
  }
  const rows = await effects(db)
  t.equal(rows.length, total, 'every event has its effect')
  t.same(
    rows.filter((r) => r.applied !== 1),
    [],
    'none applied twice',
  )
  const inbox = await db.selectFrom('bus_inbox').select('event_id').execute()
  t.equal(inbox.length, total, 'one inbox record each')
  // Closing the consumers would return anything still unacknowledged to the queue: after that
  // the queue must be empty.
  for (const bus of buses) await bus.close()
  const names = consumerNames(broker.prefix, consumer, [])
  t.equal(await readyCount(broker.url, names.queue), 0, 'nothing left unacknowledged or ready')
  t.equal(await readyCount(broker.url, names.dlq), 0, 'nothing dead-lettered')
}

t.test(
  'a consumer cut off again and again with a backlog waiting handles every event once',
  async (t) => {
    const broker = await createTestBroker()
    const db = await serviceDb(t)
    const { proxy, bus } = await consumerBehindProxy(t, db, broker, slowEffect)
    await bus.start()
    const events = await producer(t, broker)

    await events.publish(5)
    await eventually(async () => (await handled(db)) === 5, { what: 'the first 5 events' })
    for (let round = 1; round <= 4; round++) {
      proxy.cut()
      await eventually(() => !bus.status().connected, { what: `cut ${round} noticed` })
      await events.publish(100)
      const backlog = await readyCount(broker.url, consumerNames(broker.prefix, consumer, []).queue)
      t.ok(backlog >= 100, `reconnect ${round} has a backlog waiting (${backlog})`)
      const before = await handled(db)
      proxy.restore()
      await eventually(() => bus.status().connected, { what: `reconnect ${round}` })
      // Progress after the reconnect; the next cut then falls on a backlog still waiting.
      await eventually(async () => (await handled(db)) >= before + 10, {
        what: `progress after reconnect ${round}`,
      })
    }
    await expectAllOnce(t, broker, db, events.total, [bus])
  },
)

t.test('two consumers of one queue, cut at different times, handle every event once', async (t) => {
  const broker = await createTestBroker()
  const db = await serviceDb(t)
  const replicas = await Promise.all(
    ['a', 'b'].map(async () => {
      const replica = await consumerBehindProxy(t, db, broker, slowEffect)
      await replica.bus.start()
      return replica
    }),
  )
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]]
  const events = await producer(t, broker)
  const progress = async (what: string) => {
    const before = await handled(db)
    await eventually(async () => (await handled(db)) >= before + 10, { what })
  }

  await events.publish(5)
  await eventually(async () => (await handled(db)) === 5, { what: 'the first 5 events' })
  for (let round = 1; round <= 3; round++) {
    a.proxy.cut()
    await events.publish(100)
    await progress(`b alone, round ${round}`)
    b.proxy.cut()
    await eventually(() => !a.bus.status().connected && !b.bus.status().connected)
    await events.publish(50)
    a.proxy.restore()
    await eventually(() => a.bus.status().connected, { what: `a back, round ${round}` })
    await progress(`a alone, round ${round}`)
    b.proxy.restore()
    await eventually(() => b.bus.status().connected, { what: `b back, round ${round}` })
  }
  await expectAllOnce(t, broker, db, events.total, [a.bus, b.bus])
})
