import { createTestDatabase, mysqlServerUrl, startTcpProxy, type TestContext } from '@tms/testing'
import t from 'tap'
import {
  createDb,
  DatabaseUnreachableError,
  dropDatabase,
  isDuplicateKey,
  type Kysely,
  migrateToLatest,
  newId,
  onCommit,
  openDatabase,
  sql,
  transaction,
  waitForDatabase,
} from '../src/index.ts'

interface Schema {
  item: { id: string; name: string; n: number }
}

const migrations = {
  '0001_item': {
    async up(db: Kysely<unknown>) {
      await sql`CREATE TABLE item (id VARCHAR(36) PRIMARY KEY, name VARCHAR(64) NOT NULL UNIQUE, n INT NOT NULL)`.execute(
        db,
      )
    },
  },
}

async function setup(t: TestContext) {
  const db = createDb<Schema>(await createTestDatabase(t))
  t.teardown(() => db.destroy())
  return db
}

t.test('migrations run once and the database compares text in binary', async (t) => {
  const db = await setup(t)
  t.same(await migrateToLatest(db, migrations), ['Up 0001_item'])
  t.same(await migrateToLatest(db, migrations), [], 'a second run does nothing')
  await db.insertInto('item').values({ id: newId(), name: 'Ada', n: 0 }).execute()
  // utf8mb4_bin: 'ada' is a different value from 'Ada' on MariaDB and MySQL alike.
  await db.insertInto('item').values({ id: newId(), name: 'ada', n: 0 }).execute()
  const err = await db
    .insertInto('item')
    .values({ id: newId(), name: 'ada', n: 0 })
    .execute()
    .catch((e: unknown) => e)
  t.ok(isDuplicateKey(err), 'a duplicate is recognised')
})

t.test('openDatabase creates, connects and migrates, logging each step', async (t) => {
  const url = await createTestDatabase(t)
  const steps: unknown[] = []
  const logger = { info: (obj: object) => steps.push(obj), warn: (obj: object) => steps.push(obj) }
  // A database that does not exist yet is created (the test's own name with a suffix).
  const fresh = `${url}_open`
  t.teardown(() => dropDatabase(fresh))
  const db = await openDatabase<Schema>(fresh, migrations, logger)
  t.teardown(() => db.destroy())
  t.same(steps, [{ step: 'Up 0001_item' }])
  await db.insertInto('item').values({ id: 'x', name: 'x', n: 1 }).execute()
  t.equal((await db.selectFrom('item').selectAll().execute()).length, 1)
  const again = await openDatabase<Schema>(fresh, migrations, logger)
  await again.destroy()
  t.equal(steps.length, 1, 'nothing left to migrate the second time')
})

t.test('ids are unique and time-ordered', async (t) => {
  const ids = Array.from({ length: 1000 }, () => newId())
  t.equal(new Set(ids).size, 1000)
  t.same([...ids].sort(), ids)
})

t.test('a deadlock is retried, so both contenders succeed', async (t) => {
  const db = await setup(t)
  await migrateToLatest(db, migrations)
  await db
    .insertInto('item')
    .values([
      { id: 'a', name: 'a', n: 0 },
      { id: 'b', name: 'b', n: 0 },
    ])
    .execute()
  let attempts = 0
  let arrived = 0
  let release!: () => void
  const bothLocked = new Promise<void>((r) => {
    release = r
  })
  // Each transaction locks one row, waits until the other has locked the other row, then asks
  // for it: a deadlock on the first run; the retry runs alone and succeeds.
  const contender = (first: string, second: string) =>
    transaction(db, async (trx) => {
      attempts++
      await trx.updateTable('item').set({ n: sql`n + 1` }).where('id', '=', first).execute()
      if (++arrived === 2) release()
      await Promise.race([bothLocked, new Promise((r) => setTimeout(r, 2000))])
      await trx.updateTable('item').set({ n: sql`n + 1` }).where('id', '=', second).execute()
    })
  await Promise.all([contender('a', 'b'), contender('b', 'a')])
  t.ok(attempts >= 3, `one contender ran again (${attempts} runs)`)
  const rows = await db.selectFrom('item').select(['id', 'n']).orderBy('id').execute()
  t.same(rows, [
    { id: 'a', n: 2 },
    { id: 'b', n: 2 },
  ])
})

t.test('onCommit callbacks run after the commit, never after a rollback', async (t) => {
  const db = await setup(t)
  await migrateToLatest(db, migrations)
  const calls: string[] = []
  await transaction(db, async (trx) => {
    t.ok(onCommit(trx, () => calls.push('committed')))
    await trx.insertInto('item').values({ id: 'c', name: 'c', n: 0 }).execute()
    // The row is not visible outside before the commit, so neither is the callback run.
    t.same(calls, [])
  })
  t.same(calls, ['committed'])
  await t.rejects(
    transaction(db, async (trx) => {
      onCommit(trx, () => calls.push('rolled back'))
      throw new Error('rule broken')
    }),
  )
  t.same(calls, ['committed'])
  t.notOk(
    onCommit(db, () => {}),
    'outside transaction() there is no commit to wait for',
  )
})

t.test('other errors are not retried', async (t) => {
  const db = await setup(t)
  await migrateToLatest(db, migrations)
  let runs = 0
  await t.rejects(
    transaction(db, async () => {
      runs++
      throw new Error('business rule')
    }),
    /business rule/,
  )
  t.equal(runs, 1)
})

t.test('dates round-trip in UTC', async (t) => {
  const db = await setup(t)
  const when = new Date('2026-12-01T09:00:00.123Z')
  const { rows } = await sql<{ d: Date }>`SELECT CAST(${when} AS DATETIME(3)) AS d`.execute(db)
  t.equal(rows[0]?.d.toISOString(), when.toISOString())
})

/** A logger that keeps what it was told: [level, fields, message]. */
function recordingLogger() {
  const lines: { level: 'info' | 'warn'; fields: Record<string, unknown>; msg: string }[] = []
  return {
    lines,
    info: (fields: object, msg: string) =>
      lines.push({ level: 'info', fields: { ...fields }, msg }),
    warn: (fields: object, msg: string) =>
      lines.push({ level: 'warn', fields: { ...fields }, msg }),
  }
}

t.test('start-up waits for an unreachable database, one log line per attempt', async (t) => {
  const server = new URL(await mysqlServerUrl())
  const proxy = await startTcpProxy(server.hostname, Number(server.port || 3306))
  t.teardown(() => proxy.close())
  const url = proxy.url(`${server.toString().replace(/\/$/, '')}/whatever`)

  proxy.cut()
  const logger = recordingLogger()
  const err = await waitForDatabase(url, 1200, logger).catch((e) => e)
  t.type(err, DatabaseUnreachableError, 'gives up after the timeout')
  t.match(
    err.message,
    /^the database at 127\.0\.0\.1:\d+ could not be reached within 1\.2 s \(\w+, \d+ attempts\)$/,
    'with a one-line reason',
  )
  const attempts = logger.lines.filter((l) => l.level === 'warn')
  t.ok(attempts.length >= 2, `each attempt logged (${attempts.length})`)
  t.match(attempts[0], {
    fields: { attempt: 1 },
    msg: /not reachable .*attempt 1, retrying in \d+ ms/,
  })
  t.ok(
    attempts.every((l) => !l.msg.includes('\n')),
    'one line each',
  )

  // Down at first, back a moment later: start-up goes on by itself.
  const later = recordingLogger()
  setTimeout(() => proxy.restore(), 600).unref()
  await waitForDatabase(url, 30_000, later)
  t.ok(
    later.lines.some((l) => l.level === 'info' && /reachable$/.test(l.msg)),
    'the recovery is logged',
  )
})
