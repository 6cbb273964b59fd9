// The system as its users meet it, through the gateway only: an admin, a tutor and a student;
// the tutor's profile with a CV and an ID card, approved; money in; a session requested, held,
// accepted, run, completed and paid; then a rejection and a decline. Every service a real
// process, every event over the real broker.
import t from 'tap'
import {
  admin,
  Client,
  eventually,
  files,
  login,
  newAccount,
  type RunningSystem,
  startSystem,
} from '../src/index.ts'

const RATE = 3000 // 30.00 an hour
const FEE_BPS = 1000 // 10 %

/** A one-hour slot at the given UTC hour, days ahead. */
function slot(hour: number, daysAhead = 1) {
  const start = new Date()
  start.setUTCDate(start.getUTCDate() + daysAhead)
  start.setUTCHours(hour, 0, 0, 0)
  const end = new Date(start.getTime() + 60 * 60 * 1000)
  return { start_time: start.toISOString(), end_time: end.toISOString() }
}

async function balances(client: Client) {
  const me = await client.expect(200, 'GET', '/user/me')
  return { balance: me.balance as number, available: me.available_balance as number }
}

/** A tutor with an approved profile at RATE, and a student with `credit` in the wallet. */
async function cast(system: RunningSystem, credit: number) {
  const api = new Client(system.url)
  const boss = await login(api, admin.username, admin.password)
  const tutor = await newAccount(api, 'tutor')
  const student = await newAccount(api, 'student')

  const form = new FormData()
  form.set('bio', 'Maths and physics for the last years of school.')
  form.set('subjects', 'maths,physics')
  form.set('hourly_rate', String(RATE))
  form.set('cv', new Blob([files.pdf], { type: 'application/pdf' }), 'cv.pdf')
  form.set('id_card', new Blob([files.png], { type: 'image/png' }), 'id.png')
  const profile = await tutor.client.expect(201, 'POST', '/academic/tutor-profiles', form)
  // The admin reviews each document, then the profile.
  for (const document of profile.documents as { id: string }[]) {
    await boss.expect(
      200,
      'PATCH',
      `/academic/tutor-profiles/${profile.id}/documents/${document.id}`,
      {
        status: 'approved',
      },
    )
  }
  await boss.expect(200, 'PATCH', `/academic/tutor-profiles/${profile.id}`, {
    status: 'approved',
    review_note: 'documents checked',
  })
  // Each wallet follows its signup's event; money goes in once it is there.
  for (const who of [student, tutor]) {
    await eventually(
      async () => (await who.client.call('GET', '/user/me')).status === 200,
      `the profile of ${who.username}`,
    )
  }
  if (credit > 0) {
    await boss.expect(200, 'POST', `/user/${student.id}/deposit`, { amount: credit })
  }
  return { api, boss, tutor, student, profile }
}

function session(client: Client, id: string) {
  return client.expect(200, 'GET', `/academic/class-sessions/${id}`)
}

t.test('book, accept, run, complete, pay: the money moves by itself', async (t) => {
  const system = await startSystem(t, { platformFeeBps: FEE_BPS })
  const { tutor, student, profile } = await cast(system, 10_000)
  t.equal(profile.status, 'pending')
  t.same(profile.documents.map((d: { kind: string }) => d.kind).sort(), ['cv', 'id_card'])

  const requested = await student.client.expect(201, 'POST', '/academic/class-sessions', {
    tutor_id: tutor.id,
    subject: 'maths',
    ...slot(9),
  })
  t.match(requested, { status: 'requested', payment_status: 'pending', price: RATE })
  await eventually(
    async () => (await session(student.client, requested.id)).payment_status === 'authorized',
    'the hold',
  )
  t.same(await balances(student.client), { balance: 10_000, available: 7000 }, 'held, not spent')

  for (const step of ['accept', 'processing', 'complete']) {
    await tutor.client.expect(200, 'PATCH', `/academic/class-sessions/${requested.id}/${step}`)
  }
  const paid = await eventually(async () => {
    const s = await session(student.client, requested.id)
    return s.payment_status === 'captured' && s
  }, 'the capture')
  t.equal(paid.status, 'completed')
  t.same(await balances(student.client), { balance: 7000, available: 7000 }, 'paid 30.00')
  const fee = Math.floor((RATE * FEE_BPS) / 10_000)
  t.same(
    await balances(tutor.client),
    { balance: RATE - fee, available: RATE - fee },
    'the tutor got 30.00 less the fee',
  )
})

t.test('a rejected request gives the hold back', async (t) => {
  const system = await startSystem(t, { platformFeeBps: FEE_BPS })
  const { tutor, student } = await cast(system, 10_000)
  const requested = await student.client.expect(201, 'POST', '/academic/class-sessions', {
    tutor_id: tutor.id,
    subject: 'physics',
    ...slot(11),
  })
  await eventually(
    async () => (await session(student.client, requested.id)).payment_status === 'authorized',
    'the hold',
  )
  t.same(await balances(student.client), { balance: 10_000, available: 7000 })
  await tutor.client.expect(200, 'PATCH', `/academic/class-sessions/${requested.id}/reject`)
  const released = await eventually(async () => {
    const s = await session(student.client, requested.id)
    return s.payment_status === 'released' && s
  }, 'the release')
  t.equal(released.status, 'rejected')
  t.same(await balances(student.client), { balance: 10_000, available: 10_000 }, 'all back')
  t.same(await balances(tutor.client), { balance: 0, available: 0 })
})

t.test('a hold the funds cannot cover is declined and the session cancelled', async (t) => {
  const system = await startSystem(t, { platformFeeBps: FEE_BPS })
  const { tutor, student } = await cast(system, 1000)
  const requested = await student.client.expect(201, 'POST', '/academic/class-sessions', {
    tutor_id: tutor.id,
    subject: 'maths',
    ...slot(13),
  })
  const declined = await eventually(async () => {
    const s = await session(student.client, requested.id)
    return s.payment_status === 'declined' && s
  }, 'the decline')
  t.match(declined, { status: 'cancelled', cancel_reason: 'insufficient_funds' })
  t.same(await balances(student.client), { balance: 1000, available: 1000 }, 'nothing taken')
  const accept = await tutor.client.call('PATCH', `/academic/class-sessions/${requested.id}/accept`)
  t.equal(accept.status, 409, 'a cancelled session cannot be accepted')
})
