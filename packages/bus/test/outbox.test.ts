import { sql, transaction } from '@tms/db'
import { createTestBroker, eventually, startTcpProxy } from '@tms/testing'
import t from 'tap'
import {
  applyEffect,
  consumer,
  effects,
  producerAndConsumer,
  serviceDb,
  testBus,
  user,
} from './helpers.ts'

t.test('an event committed with its change reaches the consumer once', async (t) => {
  const { producerDb, consumerDb, producer } = await producerAndConsumer(t)

  const sent = await transaction(producerDb, (trx) =>
    producer.enqueue(trx, 'auth.user.registered', user(1), { correlationId: 'req-42' }),
  )
  const rows = await eventually(async () => {
    const r = await effects(consumerDb)
    return r.length > 0 && r
  })
  t.same(
    rows.map((r) => [r.event_id, r.applied]),
    [[sent.id, 1]],
  )
  const outbox = await eventually(() =>
    producerDb
      .selectFrom('bus_outbox')
      .selectAll()
      .where('published_at', 'is not', null)
      .executeTakeFirst(),
  )
  t.equal(outbox.id, sent.id, 'the outbox row is marked sent after the confirm')
  t.equal(JSON.parse(outbox.envelope).correlation_id, 'req-42')
  const inbox = await consumerDb.selectFrom('bus_inbox').selectAll().execute()
  t.same(
    inbox.map((r) => [r.consumer, r.event_id]),
    [[consumer, sent.id]],
  )
})

t.test('a producer transaction that rolls back publishes nothing', async (t) => {
  const { producerDb, consumerDb, producer } = await producerAndConsumer(t)

  await t.rejects(
    transaction(producerDb, async (trx) => {
      await producer.enqueue(trx, 'auth.user.registered', user(1))
      throw new Error('the change failed')
    }),
  )
  // A committed event after the rolled-back one: once it has arrived, the first one would have.
  await transaction(producerDb, (trx) => producer.enqueue(trx, 'auth.user.registered', user(2)))
  await eventually(async () => (await effects(consumerDb)).length > 0)
  t.same(
    (await effects(consumerDb)).map((r) => r.username),
    ['user_2'],
  )
  t.equal((await producerDb.selectFrom('bus_outbox').selectAll().execute()).length, 1)
})

t.test(
  'an event committed while the broker is unreachable is published once it is back',
  async (t) => {
    const target = new URL((await createTestBroker()).url)
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672))
    t.teardown(() => proxy.close())
    const { producerDb, consumerDb, producer } = await producerAndConsumer(t, {
      producerUrl: (url) => proxy.url(url),
    })

    proxy.cut()
    await eventually(() => !producer.status().connected, { what: 'the producer to notice the cut' })
    const sent = await transaction(producerDb, (trx) =>
      producer.enqueue(trx, 'auth.user.registered', user(7)),
    )
    // The relay polls every 50 ms; while the link fails two more connection attempts it has
    // had many chances to publish, and must not have marked the row sent.
    const failed = producer.status().failedAttempts
    await eventually(() => producer.status().failedAttempts >= failed + 2, {
      what: 'two more failed connection attempts',
    })
    const pending = await producerDb.selectFrom('bus_outbox').selectAll().executeTakeFirstOrThrow()
    t.equal(pending.published_at, null, 'not marked sent while the broker is unreachable')
    t.equal((await effects(consumerDb)).length, 0)

    proxy.restore()
    const rows = await eventually(async () => {
      const r = await effects(consumerDb)
      return r.length > 0 && r
    })
    t.same(
      rows.map((r) => [r.event_id, r.applied]),
      [[sent.id, 1]],
    )
    await eventually(async () => {
      const row = await producerDb
        .selectFrom('bus_outbox')
        .select('published_at')
        .executeTakeFirstOrThrow()
      return row.published_at !== null
    })
  },
)

t.test(
  'a crash between publishing and marking sent yields a duplicate the consumer ignores',
  async (t) => {
    let crashes = 0
    let calls = 0
    const outcomes: string[] = []
    const { producerDb, consumerDb, producer } = await producerAndConsumer(t, {
      producer: {
        afterPublish() {
          // The broker has confirmed; the process "dies" before the rows are marked sent.
          if (crashes++ === 0) throw new Error('simulated crash after publish')
        },
      },
      consumer: { onProcessed: (outcome) => outcomes.push(outcome) },
      async handler(event, trx) {
        calls++
        await applyEffect(event, trx)
      },
    })

    await transaction(producerDb, (trx) => producer.enqueue(trx, 'auth.user.registered', user(3)))
    await eventually(async () => {
      const row = await producerDb
        .selectFrom('bus_outbox')
        .select('published_at')
        .executeTakeFirstOrThrow()
      return row.published_at !== null
    })
    t.ok(crashes >= 2, 'the batch was published twice')
    await eventually(() => outcomes.length === 2, { what: 'both deliveries settled' })
    t.same(outcomes.sort(), ['duplicate', 'handled'])
    const rows = await effects(consumerDb)
    t.equal(rows.length, 1)
    t.equal(rows[0]?.applied, 1, 'the duplicate changed nothing')
    t.equal(calls, 1, 'the handler ran once')
  },
)

t.test('a producer never waits for a relay batch that is waiting for its confirms', async (t) => {
  // The relay's batch is held after the broker's confirms, before its rows are marked sent
  // (where it waits for the broker in real life), while a producer commits a new event.
  const paused = Promise.withResolvers<void>()
  const holding = Promise.withResolvers<void>()
  let batches = 0
  const { producerDb, consumerDb, producer } = await producerAndConsumer(t, {
    producer: {
      async afterPublish() {
        if (batches++ > 0) return
        holding.resolve()
        await paused.promise
      },
    },
  })
  await transaction(producerDb, (trx) => producer.enqueue(trx, 'auth.user.registered', user(1)))
  await holding.promise
  // A plain transaction (no retries) that gives up on a lock after 3 s: at REPEATABLE READ the
  // relay's locking read would hold the gap this insert goes into until the batch commits.
  await producerDb.transaction().execute(async (trx) => {
    await sql`SET SESSION innodb_lock_wait_timeout = 3`.execute(trx)
    await producer.enqueue(trx, 'auth.user.registered', user(2))
  })
  t.pass('the second event was committed while the first batch was held')
  paused.resolve()
  await eventually(async () => (await effects(consumerDb)).length === 2, {
    what: 'both events applied',
  })
})

t.test('old published outbox rows and inbox records are purged, recent ones kept', async (t) => {
  const broker = await createTestBroker()
  const db = await serviceDb(t)
  const bus = testBus(t, db, broker, {
    relay: { enabled: false },
    retention: { outboxMs: 1000, inboxMs: 2000 },
  })
  const old = new Date(Date.now() - 5000)
  const now = new Date()
  await db
    .insertInto('bus_outbox')
    .values([
      { id: 'a'.repeat(36), type: 't', envelope: '{}', created_at: old, published_at: old },
      { id: 'b'.repeat(36), type: 't', envelope: '{}', created_at: old, published_at: null },
      { id: 'c'.repeat(36), type: 't', envelope: '{}', created_at: now, published_at: now },
    ])
    .execute()
  await db
    .insertInto('bus_inbox')
    .values([
      { consumer, event_id: 'a'.repeat(36), handled_at: old },
      { consumer, event_id: 'c'.repeat(36), handled_at: now },
    ])
    .execute()
  t.same(await bus.purge(), { outbox: 1, inbox: 1 })
  const outbox = await db.selectFrom('bus_outbox').select('id').orderBy('id').execute()
  t.same(
    outbox.map((r) => r.id[0]),
    ['b', 'c'],
    'unpublished rows are never purged',
  )

  // A backlog larger than one purge batch goes too.
  const backlog = Array.from({ length: 2500 }, (_, i) => ({
    id: `old-${String(i).padStart(32, '0')}`,
    type: 't',
    envelope: '{}',
    created_at: old,
    published_at: old,
  }))
  await db.insertInto('bus_outbox').values(backlog).execute()
  t.same(await bus.purge(), { outbox: 2500, inbox: 0 })
  t.equal((await db.selectFrom('bus_outbox').select('id').execute()).length, 2)
})
