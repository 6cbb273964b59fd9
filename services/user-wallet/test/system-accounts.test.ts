// The two accounts every movement of a kind touches: `platform` (every capture's fee), spread
// over sub-accounts that a capture takes without waiting for another, and `external` (every
// deposit and debit), neither locked nor cached. Under concurrency their balances as the
// ledger defines them (systemBalances) must equal the sums of their entries and what the test
// itself moved, and the books must still balance.
import { createDb, sql, transaction } from '@tms/db'
import { eventually, holdLock } from '@tms/testing'
import t from 'tap'
import { post, systemBalances } from '../src/db/ledger.ts'
import { PLATFORM_ACCOUNT_IDS } from '../src/db/migrations.ts'
import type { WalletDatabase } from '../src/db/schema.ts'
import { capture, deposit, hold, InsufficientFundsError } from '../src/domain/ledger.ts'
import { addUser, ledgerProblems, walletService } from './helpers.ts'

const admin = { id: 'admin1', role: 'admin' as const }

/** Sums of entries straight from the table: by account kind, and of all accounts at once. */
async function entrySums(db: Parameters<typeof systemBalances>[0]) {
  const { rows } = await sql<{ kind: string; total: number }>`
    SELECT a.kind, SUM(e.amount) AS total FROM entry e JOIN account a ON a.id = e.account_id
    GROUP BY a.kind`.execute(db)
  const of = (kind: string) => Number(rows.find((r) => r.kind === kind)?.total ?? 0)
  return {
    platform: of('platform'),
    external: of('external'),
    all: rows.reduce((s, r) => s + Number(r.total), 0),
  }
}

t.test(
  'platform and external balances equal their entries under concurrent movements',
  async (t) => {
    const h = await walletService(t)
    // More connections than platform sub-accounts: some captures find every one held and wait.
    const db = createDb<WalletDatabase>(h.databaseUrl, { poolSize: 40 })
    t.teardown(() => db.destroy())
    const students = Array.from({ length: 8 }, (_, i) => `stu${i}`)
    const tutors = Array.from({ length: 8 }, (_, i) => `tut${i}`)
    for (const id of [...students, ...tutors]) await addUser(h.db, id)
    const now = () => new Date()
    for (const s of students) {
      await transaction(db, (trx) => post(trx, deposit(s, 10_000), { now: now() }))
      await transaction(db, (trx) => post(trx, hold(s, 5_000), { now: now() }))
    }
    const adminToken = await h.token(admin)
    const money = (kind: 'deposit' | 'debit', userId: string, amount: number) =>
      h.app.inject({
        method: 'POST',
        url: `/user/${userId}/${kind}`,
        headers: { authorization: `Bearer ${adminToken}` },
        payload: kind === 'deposit' ? { amount } : { amount, reason: 'test' },
      })

    let fees = 0
    let external = -10_000 * students.length
    const captures = Array.from({ length: 120 }, async (_, i) => {
      const fee = 1 + (i % 7)
      const movement = capture(students[i % 8] as string, tutors[(i * 3) % 8] as string, 40, fee)
      try {
        await transaction(db, (trx) => post(trx, movement, { now: now() }))
        fees += fee
      } catch (err) {
        if (!(err instanceof InsufficientFundsError)) throw err
      }
    })
    const byHand = Array.from({ length: 60 }, async (_, i) => {
      const user = (i % 2 === 0 ? students : tutors)[i % 8] as string
      const kind = i % 3 === 0 ? 'debit' : 'deposit'
      const res = await money(kind, user, 11 + i)
      if (res.statusCode === 200) external += kind === 'deposit' ? -(11 + i) : 11 + i
      else t.equal(res.statusCode, 409, `${kind} ${i} refused only for funds`)
    })
    await Promise.all([...captures, ...byHand])

    const balances = await systemBalances(h.db)
    const sums = await entrySums(h.db)
    t.ok(fees > 0, 'captures went through')
    t.equal(balances.platform, fees, "the platform's balance is every fee captured")
    t.equal(balances.platform, sums.platform, "…and the sum of the platform's entries")
    t.equal(balances.external, external, "external's balance is what came in and went out")
    t.equal(balances.external, sums.external, "…and the sum of external's entries")
    t.equal(sums.all, 0, 'the books balance: all entries sum to zero')
    const { rows: users } = await sql<{ total: number }>`
    SELECT SUM(balance) AS total FROM account WHERE user_id IS NOT NULL`.execute(h.db)
    t.equal(
      Number(users[0]?.total) + balances.platform + balances.external,
      0,
      'the users’ cached balances, platform and external add up to zero',
    )
    const { rows: used } = await sql<{ n: number }>`
    SELECT COUNT(DISTINCT account_id) AS n FROM entry WHERE account_id IN (${sql.join(
      PLATFORM_ACCOUNT_IDS,
    )})`.execute(h.db)
    t.ok(Number(used[0]?.n) > 1, `the fees spread over ${used[0]?.n} sub-accounts`)
    t.same(await ledgerProblems(h.db), [], 'every cached balance equals its entries')
  },
)

t.test('a capture takes a free platform sub-account instead of waiting', async (t) => {
  const h = await walletService(t)
  await addUser(h.db, 'stu')
  await addUser(h.db, 'tut')
  const now = new Date()
  await transaction(h.db, (trx) => post(trx, deposit('stu', 1000), { now }))
  await transaction(h.db, (trx) => post(trx, hold('stu', 1000), { now }))
  const payOnce = () =>
    transaction(h.db, (trx) => post(trx, capture('stu', 'tut', 100, 10), { now }))

  // Another transaction holds `platform` (a capture under way): this one does not wait for it.
  const held = holdLock(
    h.db,
    sql`SELECT id FROM account FORCE INDEX (PRIMARY) WHERE id = 'platform' FOR UPDATE`,
  )
  await held.locked
  const posted = await payOnce()
  t.equal(posted.balances.get('platform'), 10, 'the fee is on the sub-account it took')
  held.release()
  await held.done
  const { rows } = await sql<{ id: string; balance: number }>`
    SELECT id, balance FROM account WHERE kind = 'platform' AND balance <> 0`.execute(h.db)
  t.same(
    rows.map((r) => [r.id, Number(r.balance)]),
    [['platform.01', 10]],
  )

  // Every sub-account held: the capture waits for one and goes through once it is free.
  const all = holdLock(
    h.db,
    sql`SELECT id FROM account FORCE INDEX (PRIMARY)
      WHERE id BETWEEN ${PLATFORM_ACCOUNT_IDS[0]} AND ${PLATFORM_ACCOUNT_IDS.at(-1)} FOR UPDATE`,
  )
  await all.locked
  let paid = false
  const waiting = payOnce().then(() => {
    paid = true
  })
  const database = new URL(h.databaseUrl).pathname.slice(1)
  await eventually(
    async () => {
      // The capture's connection in its locking read of one sub-account (PROCESSLIST: in
      // MySQL 8.4 and MariaDB alike).
      const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n
        FROM information_schema.PROCESSLIST
        WHERE db = ${database} AND command = 'Query'
          AND info LIKE 'SELECT id, balance FROM account%WHERE id = %FOR UPDATE'`.execute(h.db)
      return Number(rows[0]?.n) > 0
    },
    { what: 'the capture waiting for a platform sub-account' },
  )
  t.notOk(paid, 'it waits while every sub-account is held')
  all.release()
  await all.done
  await waiting
  t.equal((await systemBalances(h.db)).platform, 20)
  t.same(await ledgerProblems(h.db), [])
})
