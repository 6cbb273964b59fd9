import { createBus } from '@tms/bus'
import { createLogger } from '@tms/logging'
import t from 'tap'
import { ensureAdmin } from '../src/admin.ts'
import { createPasswordChecker } from '../src/domain/password.ts'
import { cheapArgon2, login, outboxEvents, setup, signup, TestClock } from './helpers.ts'

const seed = { username: 'root', email: 'root@example.com', password: 'root password 1' }

async function deps(h: Awaited<ReturnType<typeof setup>>) {
  const errors: string[] = []
  const logger = createLogger({ service: 'auth', level: 'silent' })
  logger.error = ((obj: unknown, msg?: string) => {
    errors.push(msg ?? String(obj))
  }) as typeof logger.error
  // Not started: enqueue only writes the outbox.
  const bus = createBus({ service: 'auth', url: 'amqp://unused', prefix: 'x.', db: h.db, logger })
  return {
    errors,
    d: {
      db: h.db,
      bus,
      passwords: createPasswordChecker(cheapArgon2),
      clock: new TestClock(),
      logger,
    },
  }
}

t.test('the first admin is created once, however often the service starts', async (t) => {
  const h = await setup(t)
  const { d } = await deps(h)
  t.equal(await ensureAdmin(d, seed), 'created')
  t.equal(await ensureAdmin(d, seed), 'exists')
  t.equal(await ensureAdmin(d, { ...seed, username: 'ROOT' }), 'exists')
  const admins = await h.db.selectFrom('users').selectAll().execute()
  t.equal(admins.length, 1)
  t.equal(admins[0]?.role, 'admin')
  const events = await outboxEvents(h.db)
  t.same(
    events.map((e) => [e.type, e.data.role]),
    [['auth.user.registered', 'admin']],
  )
  const tokens = await login(h.app, 'root', seed.password)
  const claims = JSON.parse(
    Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString(),
  )
  t.equal(claims.role, 'admin')
})

t.test('concurrent starts create one admin', async (t) => {
  const h = await setup(t)
  const { d } = await deps(h)
  const results = await Promise.all([
    ensureAdmin(d, seed),
    ensureAdmin(d, seed),
    ensureAdmin(d, seed),
  ])
  t.equal(results.filter((r) => r === 'created').length, 1)
  const count = await h.db.selectFrom('users').select(h.db.fn.countAll().as('n')).executeTakeFirst()
  t.equal(Number(count?.n), 1)
})

t.test('an existing non-admin is never promoted', async (t) => {
  const h = await setup(t)
  const { d, errors } = await deps(h)
  const byName = await signup(h.app, { username: 'root', email: 'someone@example.com' })
  t.equal(await ensureAdmin(d, seed), 'conflict')
  const byEmail = await setup(t)
  const other = await deps(byEmail)
  await signup(byEmail.app, { username: 'someone', email: 'ROOT@example.com' })
  t.equal(await ensureAdmin(other.d, seed), 'conflict')
  t.equal(errors.length, 1, 'an error is logged')
  const user = await h.db
    .selectFrom('users')
    .selectAll()
    .where('id', '=', byName.id)
    .executeTakeFirstOrThrow()
  t.equal(user.role, 'student')
  const count = await h.db.selectFrom('users').select(h.db.fn.countAll().as('n')).executeTakeFirst()
  t.equal(Number(count?.n), 1)
})

t.test('a weak admin password stops the start', async (t) => {
  const h = await setup(t)
  const { d } = await deps(h)
  await t.rejects(ensureAdmin(d, { ...seed, password: 'short' }), /ADMIN_PASSWORD/)
  await t.rejects(ensureAdmin(d, { ...seed, username: 'a b' }), /ADMIN_USERNAME/)
})
