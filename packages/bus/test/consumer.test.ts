import { makeEnvelope } from '@tms/contracts'
import { transaction } from '@tms/db'
import { createTestBroker, eventually } from '@tms/testing'
import t from 'tap'
import { listDeadLetters, type Outcome, RetryLater, replayDeadLetters } from '../src/index.ts'
import {
  applyEffect,
  capturedLogger,
  consumer,
  consumerBehindProxy,
  effects,
  publishRaw,
  serviceDb,
  slowEffect,
  testBus,
  user,
} from './helpers.ts'

t.test('the same message delivered twice has its effect once', async (t) => {
  const broker = await createTestBroker()
  const db = await serviceDb(t)
  const bus = testBus(t, db, broker, { relay: { enabled: false } })
  let calls = 0
  bus.subscribe(consumer, {
    'auth.user.registered': async (event, trx) => {
      calls++
      await applyEffect(event, trx)
    },
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
    bus.subscribe(consumer, {
      'auth.user.registered': async (event, trx) => {
        attempts.push(Date.now())
        if (failing) throw new Error('downstream unavailable')
        await applyEffect(event, trx)
      },
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
  bus.subscribe(consumer, {
    'auth.user.registered': async () => {
      calls++
    },
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
  const producerDb = await serviceDb(t)
  const consumerDb = await serviceDb(t)
  const producer = testBus(t, producerDb, broker)
  await producer.start()

  const total = 300
  // First consumer instance: goes through the proxy, so its connection can be cut mid-stream.
  const { proxy, bus: first } = await consumerBehindProxy(t, consumerDb, broker, slowEffect)
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
  second.subscribe(consumer, { 'auth.user.registered': slowEffect })
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

t.test(
  'RetryLater is retried through the retry queues and logged at info, not as a failure',
  async (t) => {
    const broker = await createTestBroker()
    const db = await serviceDb(t)
    const { logger, lines } = capturedLogger()
    const outcomes: Outcome[] = []
    const bus = testBus(t, db, broker, {
      relay: { enabled: false },
      logger,
      retryDelaysMs: [50, 100],
      onProcessed: (outcome) => outcomes.push(outcome),
    })
    const tries = new Map<string, number>()
    bus.subscribe(consumer, {
      'auth.user.registered': async (event, trx) => {
        const n = (tries.get(event.data.username) ?? 0) + 1
        tries.set(event.data.username, n)
        // user_1 is decided on its third try; user_2 never.
        if (event.data.username === 'user_2' || n < 3) {
          throw new RetryLater(`${event.data.username} cannot be decided yet`)
        }
        await applyEffect(event, trx)
      },
    })
    await bus.start()
    const soon = makeEnvelope('auth.user.registered', user(1), { producer: 'test' })
    await publishRaw(broker.url, broker.prefix, soon.type, JSON.stringify(soon), soon.id)
    await eventually(() => outcomes.length === 3, { what: 'three settles' })
    t.same(outcomes, ['deferred', 'deferred', 'handled'], 'counted as deferred, then handled')
    t.equal((await effects(db)).length, 1)
    const notYet = lines.filter((l) => l.msg === 'not yet: retrying later')
    t.match(notYet, [
      { level: 30, attempt: 1, delay_ms: 50, reason: 'user_1 cannot be decided yet' },
      { level: 30, attempt: 2, delay_ms: 100 },
    ])
    t.same(
      lines.filter((l) => (l.level as number) >= 40),
      [],
      'no warning or error for a wait',
    )

    // A wait that outlasts every retry step ends in the dead-letter queue, as an error.
    const never = makeEnvelope('auth.user.registered', user(2), { producer: 'test' })
    await publishRaw(broker.url, broker.prefix, never.type, JSON.stringify(never), never.id)
    const parked = await eventually(async () => {
      const letters = await listDeadLetters(broker.url, broker.prefix, consumer)
      return letters.length > 0 && letters
    })
    t.match(parked, [{ messageId: never.id, error: /RetryLater: user_2 cannot be decided yet/ }])
    t.equal(tries.get('user_2'), 3)
    await eventually(() => outcomes.length === 6, { what: 'three more settles' })
    t.same(outcomes.slice(3), ['deferred', 'deferred', 'dead-lettered'])
    t.match(
      lines.filter((l) => (l.level as number) >= 40),
      [{ level: 50, msg: 'still cannot be decided after every retry: dead-lettered' }],
    )
  },
)
