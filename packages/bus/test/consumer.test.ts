import { makeEnvelope } from '@tms/contracts'
import { transaction } from '@tms/db'
import { createTestBroker, eventually, startTcpProxy } from '@tms/testing'
import amqplib from 'amqplib'
import t from 'tap'
import { exchangeName, listDeadLetters, replayDeadLetters } from '../src/index.ts'
import { applyEffect, consumer, effects, serviceDb, testBus, user } from './helpers.ts'

/** Publishes raw bytes to the exchange, as a misbehaving or duplicating producer would. */
async function publishRaw(
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

t.test('the same message delivered twice has its effect once', async (t) => {
  const broker = await createTestBroker()
  const db = await serviceDb(t)
  const bus = testBus(t, db, broker, { relay: { enabled: false } })
  let calls = 0
  bus.subscribe(consumer, async (event, trx) => {
    calls++
    await applyEffect(event, trx as never)
  })
  await bus.start()
  const envelope = makeEnvelope('auth.user.registered', user(1), { producer: 'test' })
  const body = JSON.stringify(envelope)
  await publishRaw(broker.url, broker.prefix, envelope.type, body, envelope.id)
  await publishRaw(broker.url, broker.prefix, envelope.type, body, envelope.id)
  // A third, different event proves the consumer got past both copies.
  const later = makeEnvelope('auth.user.registered', user(2), { producer: 'test' })
  await publishRaw(broker.url, broker.prefix, later.type, JSON.stringify(later), later.id)
  await eventually(async () => (await effects(db)).length === 2)
  await eventually(async () => {
    const n = await db
      .selectFrom('bus_inbox')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    return Number(n.n) === 2
  })
  t.same(
    (await effects(db)).map((r) => [r.username, r.applied]),
    [
      ['user_1', 1],
      ['user_2', 1],
    ],
  )
  t.equal(calls, 2, 'the handler did not run for the duplicate')
})

t.test(
  'a handler that keeps failing is retried with growing delays, parked, and replayed',
  async (t) => {
    const broker = await createTestBroker()
    const db = await serviceDb(t)
    const bus = testBus(t, db, broker, { retryDelaysMs: [100, 400] })
    const attempts: number[] = []
    let failing = true
    bus.subscribe(consumer, async (event, trx) => {
      attempts.push(Date.now())
      if (failing) throw new Error('downstream unavailable')
      await applyEffect(event, trx as never)
    })
    await bus.start()
    const sent = await transaction(db, (trx) => bus.enqueue(trx, 'auth.user.registered', user(5)))

    const parked = await eventually(
      async () => {
        const letters = await listDeadLetters(broker.url, broker.prefix, consumer)
        return letters.length > 0 && letters
      },
      { what: 'the dead letter' },
    )
    t.equal(attempts.length, 3, 'first try and one per retry step')
    const [first = 0, second = 0, third = 0] = attempts
    const gaps = [second - first, third - second] as const
    t.ok(gaps[0] >= 90, `first retry after ~100 ms (was ${gaps[0]})`)
    t.ok(gaps[1] >= 390, `second retry after ~400 ms (was ${gaps[1]})`)
    t.ok(gaps[1] > gaps[0], 'delays grow')
    t.equal(parked.length, 1)
    t.equal(parked[0]?.messageId, sent.id)
    t.match(parked[0]?.error, /downstream unavailable/)
    t.equal(parked[0]?.attempts, 2)
    t.equal((await effects(db)).length, 0, 'a failed handler left no effect')
    t.equal(
      (await db.selectFrom('bus_inbox').selectAll().execute()).length,
      0,
      'nor an inbox record',
    )
    // Listing does not consume.
    t.equal((await listDeadLetters(broker.url, broker.prefix, consumer)).length, 1)

    failing = false
    t.equal(await replayDeadLetters(broker.url, broker.prefix, consumer), 1)
    const rows = await eventually(async () => {
      const r = await effects(db)
      return r.length > 0 && r
    })
    t.same(
      rows.map((r) => [r.event_id, r.applied]),
      [[sent.id, 1]],
    )
    t.equal((await listDeadLetters(broker.url, broker.prefix, consumer)).length, 0)
  },
)

t.test('a message that fails validation goes straight to the dead-letter queue', async (t) => {
  const broker = await createTestBroker()
  const db = await serviceDb(t)
  const bus = testBus(t, db, broker, { relay: { enabled: false }, retryDelaysMs: [60_000] })
  let calls = 0
  bus.subscribe(consumer, async () => {
    calls++
  })
  await bus.start()
  const bad = makeEnvelope('auth.user.registered', user(1), { producer: 'test' })
  await publishRaw(
    broker.url,
    broker.prefix,
    bad.type,
    JSON.stringify({ ...bad, data: { ...bad.data, role: 'root' } }),
    bad.id,
  )
  await publishRaw(broker.url, broker.prefix, bad.type, 'not json at all', 'garbage')
  const letters = await eventually(async () => {
    const l = await listDeadLetters(broker.url, broker.prefix, consumer)
    return l.length === 2 && l
  })
  t.same(letters.map((l) => l.messageId).sort(), [bad.id, 'garbage'].sort())
  t.match(letters.find((l) => l.messageId === bad.id)?.error, /ContractError: .*\/role/)
  t.equal(calls, 0, 'the handler never saw them')
  t.equal(letters[0]?.attempts, 0, 'no retries')
})

t.test('a consumer that restarts mid-stream loses nothing and applies nothing twice', async (t) => {
  const broker = await createTestBroker()
  const target = new URL(broker.url)
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672))
  t.teardown(() => proxy.close())
  const producerDb = await serviceDb(t)
  const consumerDb = await serviceDb(t)
  const producer = testBus(t, producerDb, broker)
  await producer.start()

  const total = 300
  const slowHandler = async (event: { id: string; data: unknown }, trx: unknown) => {
    await applyEffect(event, trx as never)
    await new Promise((r) => setTimeout(r, 2))
  }
  // First consumer instance: goes through the proxy, so its connection can be cut mid-stream.
  const first = testBus(
    t,
    consumerDb,
    { url: proxy.url(broker.url), prefix: broker.prefix },
    { relay: { enabled: false } },
    { deleteTopology: false },
  )
  first.subscribe(consumer, slowHandler)
  await first.start()

  for (let i = 0; i < total; i += 50) {
    await transaction(producerDb, async (trx) => {
      for (let j = i; j < i + 50; j++) await producer.enqueue(trx, 'auth.user.registered', user(j))
    })
  }
  await eventually(async () => (await effects(consumerDb)).length >= 50, { what: '50 effects' })
  // The connection dies with handlers in flight and messages unacked...
  proxy.cut()
  const closeStarted = Date.now()
  await first.close()
  t.ok(Date.now() - closeStarted < 10_000, 'close does not hang without a connection')
  const midway = (await effects(consumerDb)).length
  t.ok(midway < total, `stopped mid-stream (${midway} of ${total})`)

  // ...and a new instance takes over.
  const second = testBus(t, consumerDb, broker, { relay: { enabled: false } })
  second.subscribe(consumer, slowHandler)
  await second.start()
  await eventually(async () => (await effects(consumerDb)).length === total, {
    timeoutMs: 30_000,
    what: `all ${total} effects`,
  })
  const rows = await effects(consumerDb)
  t.equal(rows.length, total, 'nothing lost')
  t.same(
    rows.filter((r) => r.applied !== 1),
    [],
    'nothing applied twice',
  )
  t.same(await listDeadLetters(broker.url, broker.prefix, consumer), [], 'nothing parked')
})
