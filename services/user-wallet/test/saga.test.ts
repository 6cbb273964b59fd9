// The booking saga through the real broker: academic events published as the academic
// service would, some twice and out of order; after each test the ledger's invariants hold.

import { consumerTransaction } from '@tms/bus'
import { systemClock } from '@tms/clock'
import { makeEnvelope } from '@tms/contracts'
import { type Kysely, transaction } from '@tms/db'
import { outboxEvents } from '@tms/kit/testing'
import { eventually } from '@tms/testing'
import t from 'tap'
import { post } from '../src/db/ledger.ts'
import type { WalletDatabase } from '../src/db/schema.ts'
import { deposit } from '../src/domain/ledger.ts'
import { bookingHandlers } from '../src/events/booking.ts'
import { addUser, balances, ledgerProblems, walletDb, walletService } from './helpers.ts'

const times = { start_time: '2030-01-01T09:00:00Z', end_time: '2030-01-01T10:00:00Z' }

function requested(sessionId: string, price: number, fee = 0, revision = 1) {
  return {
    session_id: sessionId,
    revision,
    student_id: 'stu',
    tutor_id: 'tut',
    price,
    fee,
    currency: 'usd',
    ...times,
  }
}
const decision = (sessionId: string, revision = 1) => ({
  session_id: sessionId,
  revision,
  student_id: 'stu',
  tutor_id: 'tut',
  actor_id: 'tut',
})
const cancelled = (sessionId: string, charge = 0, fee = 0, revision = 1) => ({
  ...decision(sessionId, revision),
  charge,
  fee,
})

async function fund(db: Kysely<WalletDatabase>, userId: string, amount: number) {
  await transaction(db, (trx) => post(trx, deposit(userId, amount), { now: new Date() }))
}

async function published(db: Kysely<WalletDatabase>, sessionId?: string) {
  return (await outboxEvents(db))
    .filter((e) => !sessionId || e.data.session_id === sessionId)
    .map((e) => e.type)
}

async function hold(db: Kysely<WalletDatabase>, sessionId: string) {
  return db
    .selectFrom('session_hold')
    .selectAll()
    .where('session_id', '=', sessionId)
    .executeTakeFirst()
}

t.test('profiles follow the auth events', async (t) => {
  const h = await walletService(t)
  const data = {
    user_id: 'u-1',
    username: 'dora',
    email: 'Dora@Example.com',
    role: 'student' as const,
    name: 'Dora',
    phone: null,
  }
  await h.publish('auth.user.registered', data, 2)
  const profile = await eventually(() =>
    h.db.selectFrom('profile').selectAll().where('user_id', '=', 'u-1').executeTakeFirst(),
  )
  t.match(profile, { username: 'dora', email: 'dora@example.com', role: 'student' })
  t.same(await balances(h.db, 'u-1'), { available: 0, held: 0 }, 'the wallet exists')
  await h.publish('auth.user.role-changed', { user_id: 'u-1', role: 'tutor', changed_by: 'adm' })
  await h.publish('auth.user.email-changed', { user_id: 'u-1', email: 'New@Example.com' })
  await eventually(async () => {
    const p = await h.db
      .selectFrom('profile')
      .selectAll()
      .where('user_id', '=', 'u-1')
      .executeTakeFirst()
    return p?.role === 'tutor' && p.email === 'new@example.com'
  })
  t.equal(
    (await h.db.selectFrom('account').select('id').where('user_id', '=', 'u-1').execute()).length,
    2,
  )
})

t.test('a request delivered twice holds once; a hold beyond available is declined', async (t) => {
  const h = await walletService(t)
  await addUser(h.db, 'stu')
  await fund(h.db, 'stu', 100)
  await h.publish('academic.session.requested', requested('s1', 60), 2)
  await h.handled(1)
  await h.publish('academic.session.requested', requested('s2', 50))
  await h.handled(2)
  t.same(await balances(h.db, 'stu'), { available: 40, held: 60 })
  t.match(await hold(h.db, 's1'), { status: 'open', amount: 60 })
  t.match(await hold(h.db, 's2'), { status: 'declined', amount: 0 })
  t.same(await published(h.db, 's1'), ['wallet.hold.placed'])
  t.same(await published(h.db, 's2'), ['wallet.hold.declined'])
  const declined = JSON.parse(
    (
      await h.db
        .selectFrom('bus_outbox')
        .select('envelope')
        .where('type', '=', 'wallet.hold.declined')
        .executeTakeFirstOrThrow()
    ).envelope,
  )
  t.match(declined.data, { session_id: 's2', amount: 50, available_balance: 40, revision: 1 })
  // A declined session that is then cancelled is closed, and nothing is published.
  await h.publish('academic.session.cancelled', cancelled('s2'))
  await h.handled(3)
  t.match(await hold(h.db, 's2'), { status: 'closed' })
  t.same(await published(h.db, 's2'), ['wallet.hold.declined'])
  // The relay publishes what the handlers wrote.
  await eventually(async () => {
    const pending = await h.db
      .selectFrom('bus_outbox')
      .select('id')
      .where('published_at', 'is', null)
      .execute()
    return pending.length === 0
  })
  t.same(await ledgerProblems(h.db), [])
})

t.test(
  'a cancel that overtakes its request: closed, nothing published, no hold later',
  async (t) => {
    const h = await walletService(t)
    await addUser(h.db, 'stu')
    await fund(h.db, 'stu', 100)
    await h.publish('academic.session.cancelled', cancelled('s1'), 2)
    await h.handled(1)
    t.match(await hold(h.db, 's1'), { status: 'closed' })
    await h.publish('academic.session.requested', requested('s1', 60))
    await h.handled(2)
    t.match(await hold(h.db, 's1'), { status: 'closed' })
    t.same(await published(h.db), [])
    t.same(await balances(h.db, 'stu'), { available: 100, held: 0 })
    t.same(await ledgerProblems(h.db), [])
  },
)

t.test('rejected releases; completed twice captures once', async (t) => {
  const h = await walletService(t)
  await addUser(h.db, 'stu')
  await addUser(h.db, 'tut', 'tutor')
  await fund(h.db, 'stu', 200)
  await h.publish('academic.session.requested', requested('s1', 100, 10))
  await h.publish('academic.session.requested', requested('s2', 50))
  await h.handled(2)
  t.same(await balances(h.db, 'stu'), { available: 50, held: 150 })

  await h.publish('academic.session.rejected', { ...decision('s2'), reason: 'busy' }, 2)
  await h.handled(3)
  t.same(await published(h.db, 's2'), ['wallet.hold.placed', 'wallet.hold.released'])

  const completed = {
    session_id: 's1',
    revision: 1,
    student_id: 'stu',
    tutor_id: 'tut',
    price: 100,
    fee: 10,
    currency: 'usd',
    actor_id: 'tut',
  }
  await h.publish('academic.session.completed', completed, 2)
  await h.handled(4)
  // The same completion again under a new event id (a re-sent event) changes nothing either.
  await h.publish('academic.session.completed', completed)
  await h.handled(5)
  t.same(await balances(h.db, 'stu'), { available: 100, held: 0 })
  t.same(await balances(h.db, 'tut'), { available: 90, held: 0 })
  const platform = await h.db
    .selectFrom('account')
    .select('balance')
    .where('id', '=', 'platform')
    .executeTakeFirstOrThrow()
  t.equal(Number(platform.balance), 10)
  t.same(await published(h.db, 's1'), ['wallet.hold.placed', 'wallet.payment.captured'])
  t.match(await hold(h.db, 's1'), { status: 'captured' })
  // A cancel after the capture moves nothing.
  await h.publish('academic.session.cancelled', cancelled('s1'))
  await h.handled(6)
  t.same(await balances(h.db, 'stu'), { available: 100, held: 0 })
  t.same(await ledgerProblems(h.db), [])
})

t.test('reschedules adjust the hold; an older revision after a newer one is ignored', async (t) => {
  const h = await walletService(t)
  await addUser(h.db, 'stu')
  await fund(h.db, 'stu', 100)
  const rescheduled = (revision: number, price: number) => ({
    session_id: 's1',
    revision,
    price,
    fee: 0,
    ...times,
  })
  await h.publish('academic.session.requested', requested('s1', 60))
  await h.handled(1)
  await h.publish('academic.session.rescheduled', rescheduled(3, 80), 2)
  await h.handled(2)
  await h.publish('academic.session.rescheduled', rescheduled(2, 70))
  await h.handled(3)
  t.match(await hold(h.db, 's1'), { status: 'open', revision: 3, amount: 80 })
  t.same(await balances(h.db, 'stu'), { available: 20, held: 80 })
  await h.publish('academic.session.rescheduled', rescheduled(4, 30))
  await h.handled(4)
  t.same(
    await balances(h.db, 'stu'),
    { available: 70, held: 30 },
    'a cheaper slot releases the difference',
  )
  // More than the funds can cover: declined, and the old hold goes back.
  await h.publish('academic.session.rescheduled', rescheduled(5, 500))
  await h.handled(5)
  t.match(await hold(h.db, 's1'), { status: 'declined', revision: 5 })
  t.same(await balances(h.db, 'stu'), { available: 100, held: 0 })
  t.same(await published(h.db, 's1'), [
    'wallet.hold.placed',
    'wallet.hold.placed',
    'wallet.hold.placed',
    'wallet.hold.declined',
  ])

  // A reschedule that overtakes its request sets the price the request then holds.
  await h.publish('academic.session.rescheduled', { ...rescheduled(2, 40), session_id: 's2' })
  await h.handled(6)
  await h.publish('academic.session.requested', requested('s2', 25))
  await h.handled(7)
  t.match(await hold(h.db, 's2'), { status: 'open', revision: 2, amount: 40 })
  t.same(await ledgerProblems(h.db), [])
})

t.test('a late cancel captures its charge; a reopened session is held again', async (t) => {
  const h = await walletService(t)
  await addUser(h.db, 'stu')
  await addUser(h.db, 'tut', 'tutor')
  await fund(h.db, 'stu', 1000)
  await h.publish('academic.session.requested', requested('s1', 400, 40))
  await h.handled(1)
  // Charged half of 400, the platform's 10 % of that; the rest of the hold goes back.
  await h.publish('academic.session.cancelled', cancelled('s1', 200, 20), 2)
  await h.handled(2)
  t.same(await balances(h.db, 'stu'), { available: 800, held: 0 })
  t.same(await balances(h.db, 'tut'), { available: 180, held: 0 })
  t.match(await hold(h.db, 's1'), { status: 'captured' })
  t.same(await published(h.db, 's1'), ['wallet.hold.placed', 'wallet.payment.captured'])

  // s2: cancelled, then reopened by an admin at revision 2; the cancel of revision 1 arrives
  // again late (a new event id) and changes nothing.
  await h.publish('academic.session.requested', requested('s2', 100))
  await h.handled(3)
  await h.publish('academic.session.cancelled', cancelled('s2'))
  await h.handled(4)
  t.same(await balances(h.db, 'stu'), { available: 800, held: 0 })
  await h.publish('academic.session.requested', requested('s2', 100, 0, 2))
  await h.handled(5)
  await h.publish('academic.session.cancelled', cancelled('s2'))
  await h.handled(6)
  t.same(await balances(h.db, 'stu'), { available: 700, held: 100 })
  t.match(await hold(h.db, 's2'), { status: 'open', revision: 2, amount: 100 })
  const completed = {
    session_id: 's2',
    revision: 2,
    student_id: 'stu',
    tutor_id: 'tut',
    price: 100,
    fee: 0,
    currency: 'usd',
    actor_id: 'adm',
  }
  await h.publish('academic.session.completed', completed)
  await h.handled(7)
  t.same(await balances(h.db, 'stu'), { available: 700, held: 0 })
  t.same(await balances(h.db, 'tut'), { available: 280, held: 0 })
  t.same(await published(h.db, 's2'), [
    'wallet.hold.placed',
    'wallet.hold.released',
    'wallet.hold.placed',
    'wallet.payment.captured',
  ])
  t.same(await ledgerProblems(h.db), [])
})

t.test('100 concurrent holds of 1 against 50: 50 placed, 50 declined', async (t) => {
  const db = await walletDb(t, 20)
  await addUser(db, 'stu')
  await fund(db, 'stu', 50)
  const enqueued: string[] = []
  const bus = {
    async enqueue(_trx: unknown, type: string) {
      enqueued.push(type)
      return {} as never
    },
  }
  const requestedHandler = bookingHandlers({ bus: bus as never, clock: systemClock })[
    'academic.session.requested'
  ]
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      transaction(
        db,
        (trx) =>
          requestedHandler(
            makeEnvelope('academic.session.requested', requested(`c${i}`, 1), {
              producer: 'academic',
            }),
            trx,
          ),
        consumerTransaction,
      ),
    ),
  )
  const rows = await db.selectFrom('session_hold').select('status').execute()
  t.equal(rows.filter((r) => r.status === 'open').length, 50)
  t.equal(rows.filter((r) => r.status === 'declined').length, 50)
  t.same(await balances(db, 'stu'), { available: 0, held: 50 })
  t.same(await ledgerProblems(db), [])
})
