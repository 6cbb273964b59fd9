import { createLogger } from '@tms/logging'
import { captureLogs } from '@tms/testing'
import t from 'tap'
import { createPasswordChecker } from '../src/domain/password.ts'
import { ensureFirstAdmin } from '../src/use-cases/accounts.ts'
import { type AuthHarness, cheapArgon2, login, outboxEvents, setup, signup } from './helpers.ts'

const seed = { username: 'root', email: 'root@example.com', password: 'root password 1' }

function deps(h: AuthHarness) {
  const logs = captureLogs()
  const logger = createLogger({ service: 'auth', destination: logs.destination })
  return {
    errors: () => logs.lines.filter((l) => l.level === 50),
    d: {
      db: h.db,
      bus: h.bus,
      passwords: createPasswordChecker(cheapArgon2),
      clock: h.clock,
      logger,
    },
  }
}

t.test(
  'the first admin is created at start-up, once however often the service starts',
  async (t) => {
    const admin = {
      adminUsername: 'root',
      adminEmail: 'root@example.com',
      adminPassword: seed.password,
    }
    const h = await setup(t, admin)
    const users = await h.db.selectFrom('users').selectAll().execute()
    t.same(
      users.map((u) => [u.username, u.role]),
      [['root', 'admin']],
      'main.ts made it from the configuration',
    )
    const { d } = deps(h)
    t.equal(await ensureFirstAdmin(d, seed), 'exists')
    t.equal(await ensureFirstAdmin(d, { ...seed, username: 'ROOT' }), 'exists')
    t.equal((await h.db.selectFrom('users').selectAll().execute()).length, 1)
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
  },
)

t.test('concurrent starts create one admin', async (t) => {
  const h = await setup(t)
  const { d } = deps(h)
  const results = await Promise.all([
    ensureFirstAdmin(d, seed),
    ensureFirstAdmin(d, seed),
    ensureFirstAdmin(d, seed),
  ])
  t.equal(results.filter((r) => r === 'created').length, 1)
  const count = await h.db.selectFrom('users').select(h.db.fn.countAll().as('n')).executeTakeFirst()
  t.equal(Number(count?.n), 1)
})

t.test('an existing non-admin is never promoted', async (t) => {
  const h = await setup(t)
  const { d, errors } = deps(h)
  const byName = await signup(h.app, { username: 'root', email: 'someone@example.com' })
  t.equal(await ensureFirstAdmin(d, seed), 'conflict')
  const byEmail = await setup(t)
  const other = deps(byEmail)
  await signup(byEmail.app, { username: 'someone', email: 'ROOT@example.com' })
  t.equal(await ensureFirstAdmin(other.d, seed), 'conflict')
  t.equal(errors().length, 1, 'an error is logged')
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
  const { d } = deps(h)
  await t.rejects(ensureFirstAdmin(d, { ...seed, password: 'short' }), /ADMIN_PASSWORD/)
  await t.rejects(ensureFirstAdmin(d, { ...seed, username: 'a b' }), /ADMIN_USERNAME/)
})
