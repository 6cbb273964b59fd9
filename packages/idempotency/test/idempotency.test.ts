// Claims, replays and takeovers on the real database: a `counter` table stands for the effect,
// so an effect applied twice shows as a count of 2.
import { createDb, type Kysely, migrateToLatest, sql } from '@tms/db'
import { createTestDatabase, eventually, holdLock, TestClock, type TestContext } from '@tms/testing'
import t from 'tap'
import {
  type Answer,
  ClaimLostError,
  IDEMPOTENCY_TTL_MS,
  type IdempotencyOptions,
  type IdempotencyTables,
  idempotencyMigrations,
  KeyInProgressError,
  KeyReusedError,
  purgeIdempotencyKeys,
  runIdempotent,
} from '../src/index.ts'

interface CounterTable {
  id: string
  n: number
}
type Db = IdempotencyTables & { counter: CounterTable }

async function testDb(t: TestContext): Promise<Kysely<Db>> {
  const db = createDb<Db>(await createTestDatabase(t), { poolSize: 20 })
  t.teardown(() => db.destroy())
  await migrateToLatest(db, {
    ...idempotencyMigrations,
    '0001_counter': {
      async up(db) {
        await sql`CREATE TABLE counter (id VARCHAR(16) PRIMARY KEY, n INT NOT NULL)`.execute(db)
        await sql`INSERT INTO counter VALUES ('c', 0)`.execute(db)
      },
    },
  })
  return db
}

const scope = { caller: 'admin-1', method: 'POST', path: '/user/u1/deposit' }

/** Adds one to the counter (waiting for its row lock) and answers with the new count. */
async function bump(trx: Kysely<Db>): Promise<Answer> {
  await trx
    .updateTable('counter')
    .set((eb) => ({ n: eb('n', '+', 1) }))
    .execute()
  const { n } = await trx.selectFrom('counter').select('n').executeTakeFirstOrThrow()
  return { status: 200, body: { n } }
}

async function count(db: Kysely<Db>): Promise<number> {
  return (await db.selectFrom('counter').select('n').executeTakeFirstOrThrow()).n
}

function run(
  db: Kysely<Db>,
  key: string | undefined,
  body: unknown,
  options: IdempotencyOptions = {},
  effect: (trx: Kysely<Db>) => Promise<Answer> = bump,
) {
  return runIdempotent(db, { scope, key, body }, effect, options)
}

t.test('the same key and body replays the first answer; the effect runs once', async (t) => {
  const db = await testDb(t)
  const first = await run(db, 'k1', { amount: 1 })
  t.same(first, { status: 200, body: { n: 1 }, replayed: false })
  const again = await run(db, 'k1', { amount: 1 })
  t.same(again, { status: 200, body: { n: 1 }, replayed: true })
  await t.rejects(run(db, 'k1', { amount: 2 }), KeyReusedError, 'another body is refused')
  t.equal(await count(db), 1)
  const other = await runIdempotent(
    db,
    { scope: { ...scope, caller: 'admin-2' }, key: 'k1', body: { amount: 1 } },
    bump,
  )
  t.equal(other.replayed, false, 'the same key of another caller is another key')
  t.same((await run(db, undefined, {})).replayed, false)
  t.same((await run(db, '', {})).replayed, false, 'an empty key counts as none')
  t.equal(await count(db), 4)
})

t.test('twenty concurrent requests with one key apply the effect once', async (t) => {
  const db = await testDb(t)
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, () => run(db, 'k', { amount: 7 })),
  )
  const answers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
  t.ok(answers.length >= 1, 'the first succeeds')
  t.ok(
    refused.every((e) => e instanceof KeyInProgressError),
    'the rest replay or are told it is in progress',
  )
  t.same(new Set(answers.map((a) => JSON.stringify(a.body))), new Set(['{"n":1}']))
  t.equal(await count(db), 1)
})

t.test(
  'a request waiting behind a row lock past the stale time keeps its claim: the retry is told to wait, then replays',
  async (t) => {
    const db = await testDb(t)
    const clock = new TestClock()
    const blocker = holdLock(db, sql`SELECT n FROM counter WHERE id = 'c' FOR UPDATE`)
    t.teardown(() => blocker.release())
    await blocker.locked
    const first = run(db, 'k', { amount: 1 }, { clock, staleClaimMs: 1000 })
    // The first request has claimed the key and holds its row while it waits.
    await eventually(async () => {
      const waiting = await sql<{
        n: number
      }>`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
        WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE 'update \`counter\`%'`.execute(
        db,
      )
      return Number(waiting.rows[0]?.n) > 0
    })
    clock.advance(60_000)
    const started = performance.now()
    const retry = await run(db, 'k', { amount: 1 }, { clock, staleClaimMs: 1000 }).catch((e) => e)
    t.type(retry, KeyInProgressError, 'the retry is not allowed to take over a running request')
    t.ok(performance.now() - started < 5000, 'and is told at once, not after a lock wait')
    t.ok((retry as KeyInProgressError).retryAfterSeconds >= 1)
    blocker.release()
    await blocker.done
    t.same((await first).body, { n: 1 })
    const replayed = await run(db, 'k', { amount: 1 }, { clock, staleClaimMs: 1000 })
    t.same(replayed, { status: 200, body: { n: 1 }, replayed: true })
    t.equal(await count(db), 1, 'one effect')
  },
)

t.test(
  'a request that stalls after claiming loses its claim to a retry: one effect, the loser writes nothing',
  async (t) => {
    const db = await testDb(t)
    const clock = new TestClock()
    const resumed = Promise.withResolvers<void>()
    const claimed = Promise.withResolvers<void>()
    let loserRan = false
    const loser = run(
      db,
      'k',
      { amount: 1 },
      {
        clock,
        afterClaim: async () => {
          claimed.resolve()
          await resumed.promise
        },
      },
      async (trx) => {
        loserRan = true
        return bump(trx)
      },
    )
    await claimed.promise
    clock.advance(60_000)
    const winner = await run(db, 'k', { amount: 1 }, { clock })
    t.same(winner, { status: 200, body: { n: 1 }, replayed: false }, 'the retry took over')
    resumed.resolve()
    await t.rejects(loser, ClaimLostError, 'the stalled request answers that it lost its claim')
    t.equal(loserRan, false, 'its effect never ran')
    t.same(await run(db, 'k', { amount: 1 }, { clock }), { ...winner, replayed: true })
    t.equal(await count(db), 1, 'one effect')
  },
)

t.test('a claim left by a process that died is taken over once it is stale', async (t) => {
  const db = await testDb(t)
  const clock = new TestClock()
  const { requestHash } = await import('../src/index.ts')
  await db
    .insertInto('idempotency_keys')
    .values({
      ...scope,
      idem_key: 'k',
      request_hash: requestHash({ amount: 1 }),
      claim_token: 'dead-process-claim',
      claimed_at: clock.now(),
      status_code: null,
      response: null,
      created_at: clock.now(),
    })
    .execute()
  await t.rejects(run(db, 'k', { amount: 1 }, { clock }), KeyInProgressError, 'not yet stale')
  clock.advance(10_000)
  t.same(await run(db, 'k', { amount: 1 }, { clock }), {
    status: 200,
    body: { n: 1 },
    replayed: false,
  })
})

t.test('a refusal the effect returns is stored and replayed; its writes roll back', async (t) => {
  const db = await testDb(t)
  let calls = 0
  const refuse = async (trx: Kysely<Db>): Promise<Answer> => {
    calls++
    await bump(trx)
    return {
      status: 409,
      body: { type: 'about:blank', title: 'Conflict', status: 409, detail: 'no' },
    }
  }
  const first = await run(db, 'k', { amount: 1 }, {}, refuse)
  t.match(first, { status: 409, replayed: false })
  t.equal(await count(db), 0, 'the refused effect left nothing')
  // Even once the effect would succeed, the key answers as it first did.
  const again = await run(db, 'k', { amount: 1 })
  t.same(again, { ...first, replayed: true })
  t.equal(calls, 1)
  t.equal(await count(db), 0)
})

t.test('an error the effect throws frees the key for a retry', async (t) => {
  const db = await testDb(t)
  let fail = true
  const flaky = async (trx: Kysely<Db>) => {
    const answer = await bump(trx)
    if (fail) throw new Error('the downstream failed')
    return answer
  }
  await t.rejects(run(db, 'k', { amount: 1 }, {}, flaky), /downstream failed/)
  t.equal(await count(db), 0)
  fail = false
  t.same(await run(db, 'k', { amount: 1 }, {}, flaky), {
    status: 200,
    body: { n: 1 },
    replayed: false,
  })
})

t.test('a key older than 24 hours is free again, and purged', async (t) => {
  const db = await testDb(t)
  const clock = new TestClock()
  await run(db, 'k', { amount: 1 }, { clock })
  await run(db, 'old', { amount: 1 }, { clock })
  clock.advance(IDEMPOTENCY_TTL_MS + 1)
  const later = await run(db, 'k', { amount: 2 }, { clock })
  t.same(later, { status: 200, body: { n: 3 }, replayed: false }, 'any body, a new effect')
  t.equal(await purgeIdempotencyKeys(db, clock), 1, 'the other old key is purged')
  t.same(
    (await db.selectFrom('idempotency_keys').select('idem_key').execute()).map((r) => r.idem_key),
    ['k'],
  )
})

t.test('the effect runs at the isolation level asked for', async (t) => {
  const db = await testDb(t)
  // The effect reads the counter, another connection commits a change, the effect reads again:
  // under READ COMMITTED the second read sees the commit, under REPEATABLE READ it does not.
  const effect = async (trx: Kysely<Db>): Promise<Answer> => {
    const before = await count(trx)
    await db
      .updateTable('counter')
      .set((eb) => ({ n: eb('n', '+', 1) }))
      .execute()
    return { status: 200, body: { before, after: await count(trx) } }
  }
  const repeatable = await runIdempotent(db, { scope, key: 'k1', body: {} }, effect)
  t.same(repeatable.body, { before: 0, after: 0 })
  for (const key of ['k2', undefined]) {
    const committed = await runIdempotent(db, { scope, key, body: {} }, effect, {
      transaction: { isolationLevel: 'read committed' },
    })
    const { before } = committed.body as { before: number }
    t.same(committed.body, { before, after: before + 1 }, `key ${key}`)
  }
})
