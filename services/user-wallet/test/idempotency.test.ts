// Idempotency-Key on the wallet's money routes, as a client retrying over HTTP meets it: a
// stored refusal, a retry while the first request waits for a lock, and a takeover of a
// request that stalled after its claim. Every test ends with the ledger's invariants.
import { idempotencyProblemTypes } from '@tms/idempotency'
import { eventually, holdLock, TestClock, type TestContext } from '@tms/testing'
import { sql } from 'kysely'
import t from 'tap'
import {
  addUser,
  balances,
  ledgerProblems,
  type WalletServiceOptions,
  walletService,
} from './helpers.ts'

const admin = { id: 'admin1', role: 'admin' as const }
const alice = { id: 'alice1', role: 'student' as const }

async function adminClient(options: WalletServiceOptions, t: TestContext) {
  const service = await walletService(t, options)
  await addUser(service.db, alice.id)
  const authorization = `Bearer ${await service.token(admin)}`
  const move = (action: 'deposit' | 'debit', key: string, payload: object) =>
    service.app.inject({
      method: 'POST',
      url: `/user/${alice.id}/${action}`,
      headers: { authorization, 'idempotency-key': key },
      payload,
    })
  return { ...service, move }
}

t.test(
  'a key refused for insufficient funds replays its refusal, even once funds arrive',
  async (t) => {
    const { db, move } = await adminClient({}, t)
    const first = await move('debit', 'debit-1', { amount: 50, reason: 'fee' })
    t.equal(first.statusCode, 409)
    t.match(first.json(), { type: 'https://tms.example/problems/insufficient-funds', status: 409 })
    t.equal((await move('deposit', 'dep-1', { amount: 100 })).statusCode, 200)
    const retry = await move('debit', 'debit-1', { amount: 50, reason: 'fee' })
    t.equal(retry.statusCode, 409, 'the first definitive answer, replayed')
    t.equal(retry.headers['idempotent-replayed'], 'true')
    t.equal(retry.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.same(retry.json(), first.json())
    t.same(await balances(db, alice.id), { available: 100, held: 0 }, 'nothing was debited')
    t.equal((await move('debit', 'debit-2', { amount: 50, reason: 'fee' })).statusCode, 200)
    t.same(await ledgerProblems(db), [])
  },
)

t.test('another body with a key is refused with a problem type of its own', async (t) => {
  const { db, move } = await adminClient({}, t)
  t.equal((await move('deposit', 'k', { amount: 100 })).statusCode, 200)
  const other = await move('deposit', 'k', { amount: 101 })
  t.equal(other.statusCode, 409)
  t.equal(other.json().type, idempotencyProblemTypes.reused)
  t.notOk(other.headers['retry-after'])
  t.same(await balances(db, alice.id), { available: 100, held: 0 })
})

t.test(
  'a retry while the first request waits for a lock past the takeover time is told to retry later; then it replays',
  async (t) => {
    const clock = new TestClock()
    const { db, move } = await adminClient(
      { clock, overrides: { idempotency: { staleClaimMs: 1000 } } },
      t,
    )
    const lock = holdLock(
      db,
      sql`SELECT balance FROM account WHERE user_id = ${alice.id} FOR UPDATE`,
    )
    t.teardown(() => lock.release())
    await lock.locked
    const first = move('deposit', 'k', { amount: 100 })
    // The first request is blocked on the locked account (the blocker itself is idle).
    await eventually(async () => {
      const waiting = await sql<{
        n: number
      }>`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
        WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE '%account%'`.execute(db)
      return Number(waiting.rows[0]?.n) > 0
    })
    clock.advance(120_000)
    const retry = await move('deposit', 'k', { amount: 100 })
    t.equal(retry.statusCode, 409)
    t.equal(retry.json().type, idempotencyProblemTypes.inProgress)
    t.ok(Number(retry.headers['retry-after']) >= 1, 'with Retry-After')
    lock.release()
    await lock.done
    const answer = await first
    t.equal(answer.statusCode, 200)
    const replay = await move('deposit', 'k', { amount: 100 })
    t.equal(replay.statusCode, 200)
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.json().transaction_id, answer.json().transaction_id)
    t.same(await balances(db, alice.id), { available: 100, held: 0 }, 'credited once')
    t.same(await ledgerProblems(db), [])
  },
)

t.test(
  'a request that stalls after its claim past the takeover time loses it: one effect, the loser writes nothing',
  async (t) => {
    const clock = new TestClock()
    let stall = true
    const claimed = Promise.withResolvers<void>()
    const resumed = Promise.withResolvers<void>()
    const afterClaim = async () => {
      if (!stall) return
      stall = false
      claimed.resolve()
      await resumed.promise
    }
    const { db, move } = await adminClient({ clock, overrides: { idempotency: { afterClaim } } }, t)
    const loser = move('deposit', 'k', { amount: 100 })
    await claimed.promise
    clock.advance(60_000)
    const winner = await move('deposit', 'k', { amount: 100 })
    t.equal(winner.statusCode, 200, 'the retry took the abandoned claim over')
    resumed.resolve()
    const lost = await loser
    t.equal(lost.statusCode, 409)
    t.equal(lost.json().type, idempotencyProblemTypes.claimLost)
    const replay = await move('deposit', 'k', { amount: 100 })
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.json().transaction_id, winner.json().transaction_id, 'one answer')
    t.same(await balances(db, alice.id), { available: 100, held: 0 }, 'one effect')
    const deposits = await db
      .selectFrom('ledger_transaction')
      .select('id')
      .where('kind', '=', 'deposit')
      .execute()
    t.equal(deposits.length, 1, 'one ledger transaction')
    t.same(await ledgerProblems(db), [])
  },
)
