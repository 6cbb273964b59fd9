// The system as its users meet it, through the gateway only: an admin, a tutor and a student;
// the tutor's profile with a CV and an ID card, approved; money in; a session requested, held,
// accepted, run, completed and paid; then a rejection and a decline. Every service a real
// process, every event over the real broker.
import t from 'tap'
import {
  admin,
  balances,
  cast,
  paymentWhen,
  RATE,
  requestAuthorized,
  requestSession,
  runToPaid,
  startSystem,
} from '../src/index.ts'

const FEE_BPS = 1000 // 10 %

t.test('book, accept, run, complete, pay: the money moves by itself', async (t) => {
  const system = await startSystem(t, { platformFeeBps: FEE_BPS })
  const c = await cast(system.url, admin, 10_000)
  t.equal(c.profile.status, 'pending')
  t.same(c.profile.documents.map((d) => d.kind).sort(), ['cv', 'id_card'])

  const requested = await requestAuthorized(c, 9)
  t.equal(requested.price, RATE)
  t.same(await balances(c.student.client), { balance: 10_000, available: 7000 }, 'held')
  const paid = await runToPaid(c, requested.id)
  t.equal(paid.status, 'completed')
  t.same(await balances(c.student.client), { balance: 7000, available: 7000 }, 'paid 30.00')
  const fee = Math.floor((RATE * FEE_BPS) / 10_000)
  t.same(
    await balances(c.tutor.client),
    { balance: RATE - fee, available: RATE - fee },
    'the tutor got 30.00 less the fee',
  )
})

t.test('a rejected request gives the hold back', async (t) => {
  const system = await startSystem(t, { platformFeeBps: FEE_BPS })
  const c = await cast(system.url, admin, 10_000)
  const requested = await requestAuthorized(c, 11)
  t.same(await balances(c.student.client), { balance: 10_000, available: 7000 })
  await c.tutor.client.expect(200, 'PATCH', `/academic/class-sessions/${requested.id}/reject`)
  const released = await paymentWhen(c, requested.id, 'released', 'the release')
  t.equal(released.status, 'rejected')
  t.same(await balances(c.student.client), { balance: 10_000, available: 10_000 }, 'all back')
  t.same(await balances(c.tutor.client), { balance: 0, available: 0 })
})

t.test('a hold the funds cannot cover is declined and the session cancelled', async (t) => {
  const system = await startSystem(t, { platformFeeBps: FEE_BPS })
  const c = await cast(system.url, admin, 1000)
  const requested = await requestSession(c, 13)
  const declined = await paymentWhen(c, requested.id, 'declined', 'the decline')
  t.match(declined, { status: 'cancelled', cancel_reason: 'insufficient_funds' })
  t.same(await balances(c.student.client), { balance: 1000, available: 1000 }, 'nothing taken')
  const accept = await c.tutor.client.call(
    'PATCH',
    `/academic/class-sessions/${requested.id}/accept`,
  )
  t.equal(accept.status, 409, 'a cancelled session cannot be accepted')
})
