// The registered event reaches a consumer even when the broker was unreachable during the
// signup: the outbox keeps it, and the relay publishes it once the connection is back.
import { type BusTables, busMigrations, createBus } from '@tms/bus'
import { createDb, migrateToLatest, sql } from '@tms/db'
import { createLogger } from '@tms/logging'
import { createTestBroker, createTestDatabase, eventually, startTcpProxy } from '@tms/testing'
import t from 'tap'
import { newAccount, setup } from './helpers.ts'

const logger = createLogger({ service: 'auth', level: process.env.LOG_LEVEL ?? 'silent' })
const topology = { 'test.profiles': ['auth.user.registered'] } as const

interface ProfilesDb extends BusTables {
  profile: { user_id: string; username: string; applied: number }
}

t.test('signup while the broker is cut: the event arrives once after it is back', async (t) => {
  const broker = await createTestBroker()
  const target = new URL(broker.url)
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672))
  t.teardown(() => proxy.close())

  // The auth service, its bus reaching RabbitMQ through the proxy.
  const service = await setup(
    t,
    { amqpUrl: proxy.url(broker.url) },
    { broker, bus: { relay: { pollIntervalMs: 50 }, reconnectMs: 100 } },
  )
  const { app, bus: authBus, db: authDb } = service

  // A consumer with an inbox, as user-wallet would have, straight to RabbitMQ.
  const consumerDb = createDb<ProfilesDb>(await createTestDatabase(t))
  t.teardown(() => consumerDb.destroy())
  await migrateToLatest(consumerDb, {
    ...busMigrations,
    test_profile: {
      async up(db) {
        await sql`CREATE TABLE profile (user_id CHAR(36) PRIMARY KEY, username VARCHAR(32) NOT NULL, applied INT NOT NULL)`.execute(
          db,
        )
      },
    },
  })
  const consumerBus = createBus({
    service: 'test-consumer',
    url: broker.url,
    prefix: broker.prefix,
    db: consumerDb,
    logger,
    topology,
    retryDelaysMs: [50],
    relay: { enabled: false },
  })
  consumerBus.subscribe('test.profiles', {
    'auth.user.registered': async ({ data }, trx) => {
      await sql`INSERT INTO profile (user_id, username, applied) VALUES (${data.user_id}, ${data.username}, 1)
                ON DUPLICATE KEY UPDATE applied = applied + 1`.execute(trx)
    },
  })
  await consumerBus.start()
  t.teardown(async () => {
    await consumerBus.close()
    await consumerBus.deleteTopology()
  })
  const connected = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(connected.statusCode, 200)
  t.equal(connected.json().checks.bus, 'connected', 'the started bus makes readiness say so')

  proxy.cut()
  await eventually(() => !authBus.status().connected, { what: 'the auth bus to notice the cut' })
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200, 'ready without the broker: signups go through the outbox')
  t.equal(ready.json().checks.bus, 'disconnected', 'and readiness says the broker is away')

  const res = await app.inject({ method: 'POST', url: '/auth/signup', payload: newAccount() })
  t.equal(res.statusCode, 201, 'signup works without the broker')
  const userId = res.json().id as string

  const pending = await authDb
    .selectFrom('bus_outbox')
    .select('published_at')
    .executeTakeFirstOrThrow()
  t.equal(pending.published_at, null, 'the event waits in the outbox')

  proxy.restore()
  const profile = await eventually(
    () =>
      consumerDb.selectFrom('profile').selectAll().where('user_id', '=', userId).executeTakeFirst(),
    { timeoutMs: 20_000, what: 'the profile from auth.user.registered' },
  )
  t.equal(profile.applied, 1)
  await eventually(
    async () => {
      const res = await app.inject({ method: 'GET', url: '/health/ready' })
      return res.statusCode === 200 && res.json().checks.bus === 'connected'
    },
    { what: 'readiness to report the broker connected again' },
  )
  // The outbox row is marked sent and the consumer has settled every delivery: no duplicate
  // can still be on its way.
  await eventually(async () => {
    const row = await authDb.selectFrom('bus_outbox').select('published_at').executeTakeFirst()
    return row?.published_at != null
  })
  await eventually(() => consumerBus.status().consumers.every((c) => c.unsettled === 0))
  const inbox = await consumerDb.selectFrom('bus_inbox').selectAll().execute()
  t.equal(inbox.length, 1, 'exactly one inbox record')
  const profiles = await consumerDb.selectFrom('profile').selectAll().execute()
  t.same(
    profiles.map((p) => p.applied),
    [1],
  )
})
