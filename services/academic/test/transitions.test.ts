// Every transition route by every party from every status over HTTP on the real database:
// what the state machine allows succeeds, every refusal is a 409 problem and changes nothing.
// Then the moves with more to them: the late cancel, reschedules, overrides, deletes.
import { answerProblem } from '@tms/testing'
import t from 'tap'
import type { SessionStatus } from '../src/domain/sessions.ts'
import {
  BASE,
  eventsOf,
  force,
  type SessionsHarness,
  sessionsHarness,
  slot,
} from './sessions-helpers.ts'

const R = 'requested'
const A = 'accepted'
const P = 'processing'
const statuses: SessionStatus[] = [R, A, 'rejected', 'cancelled', P, 'completed']

/** route → party → the statuses it succeeds from (written out, not read from the code). */
const allowed: Record<string, Record<'stu' | 'tut' | 'adm', SessionStatus[] | 403>> = {
  accept: { stu: 403, tut: [R], adm: [R] },
  reject: { stu: 403, tut: [R], adm: [R] },
  processing: { stu: 403, tut: [A], adm: [A] },
  complete: { stu: 403, tut: [P], adm: [P] },
  cancel: { stu: [R, A], tut: [R, A], adm: [R, A, P] },
  reschedule: { stu: [R, A], tut: [R, A], adm: [R, A] },
  delete: { stu: [R], tut: 403, adm: statuses },
}
const arrives: Record<string, SessionStatus> = {
  accept: A,
  reject: 'rejected',
  processing: P,
  complete: 'completed',
  cancel: 'cancelled',
  reschedule: R,
}

async function parties(h: SessionsHarness) {
  await h.addTutor('tut', 6000)
  await h.addUser('stu', 'student')
  await h.addUser('adm', 'admin')
}

let hour = 30
/** A session of stu with tut in `status`, its hold authorized, at a time of its own. */
async function sessionIn(h: SessionsHarness, status: SessionStatus): Promise<string> {
  hour += 2
  const res = await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', hour))
  if (res.statusCode !== 201) throw new Error(res.body)
  const id = res.json().id as string
  await force(h.db, id, { status, payment_status: 'authorized' })
  return id
}

function callFor(h: SessionsHarness, route: string, who: string, id: string) {
  if (route === 'delete') return h.call(who, 'DELETE', `${BASE}/${id}`)
  if (route === 'reschedule') {
    hour += 2
    const moved = slot(h.clock, 'tut', hour, 90)
    return h.call(who, 'PATCH', `${BASE}/${id}`, {
      start_time: moved.start_time,
      end_time: moved.end_time,
    })
  }
  return h.call(who, 'PATCH', `${BASE}/${id}/${route}`)
}

t.test(
  'every route, party and status: allowed or 409 (403 for a role that never may)',
  async (t) => {
    const h = await sessionsHarness(t)
    await parties(h)
    for (const [route, byParty] of Object.entries(allowed)) {
      for (const [who, okFrom] of Object.entries(byParty)) {
        for (const status of statuses) {
          const id = await sessionIn(h, status)
          const res = await callFor(h, route, who, id)
          const label = `${who} ${route} from ${status}`
          const after = await h.db
            .selectFrom('class_sessions')
            .select(['status', 'deleted_at', 'revision'])
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
          if (okFrom === 403 || !okFrom.includes(status)) {
            t.equal(res.statusCode, okFrom === 403 ? 403 : 409, label)
            t.equal(answerProblem(res), undefined, `${label}: a problem`)
            t.match(after, { status, deleted_at: null, revision: 1 }, `${label}: unchanged`)
            t.same(
              (await eventsOf(h.db, id)).map((e) => e.type),
              ['academic.session.requested'],
              `${label}: nothing published`,
            )
          } else if (route === 'delete') {
            t.equal(res.statusCode, 204, label)
            t.ok(after.deleted_at, `${label}: gone`)
            t.equal((await h.call(who, 'GET', `${BASE}/${id}`)).statusCode, 404)
          } else {
            t.equal(res.statusCode, 200, `${label}: ${res.body}`)
            t.equal(res.json().status, arrives[route], label)
          }
        }
      }
    }
  },
)

t.test('an accept needs an authorized hold; a due request cannot be accepted', async (t) => {
  const h = await sessionsHarness(t)
  await parties(h)
  const id = await sessionIn(h, R)
  for (const payment of ['pending', 'declined', 'released'] as const) {
    await force(h.db, id, { payment_status: payment })
    const res = await h.call('tut', 'PATCH', `${BASE}/${id}/accept`)
    t.equal(res.statusCode, 409, payment)
    t.equal(res.json().type, 'https://tms.example/problems/payment-not-authorized')
  }
  await force(h.db, id, { payment_status: 'authorized' })
  h.clock.set(new Date((await h.call('stu', 'GET', `${BASE}/${id}`)).json().start_time))
  const late = await h.call('tut', 'PATCH', `${BASE}/${id}/accept`)
  t.equal(late.statusCode, 409, 'at its start time the request has expired')
  t.match(late.json().detail, /expired/)
})

t.test('events of each move carry the revision, the actor and the reason', async (t) => {
  const h = await sessionsHarness(t)
  await parties(h)
  const id = await sessionIn(h, R)
  t.equal(
    (await h.call('tut', 'PATCH', `${BASE}/${id}/accept`, { reason: 'see you' })).statusCode,
    200,
  )
  await h.call('tut', 'PATCH', `${BASE}/${id}/processing`)
  const done = await h.call('tut', 'PATCH', `${BASE}/${id}/complete`)
  t.match(done.json(), { status: 'completed', payment_status: 'authorized' })
  const events = await eventsOf(h.db, id)
  t.same(
    events.map((e) => e.type),
    ['academic.session.requested', 'academic.session.accepted', 'academic.session.completed'],
  )
  t.same(events[1]?.data, {
    session_id: id,
    revision: 1,
    student_id: 'stu',
    tutor_id: 'tut',
    actor_id: 'tut',
    reason: 'see you',
  })
  t.same(events[2]?.data, {
    session_id: id,
    revision: 1,
    student_id: 'stu',
    tutor_id: 'tut',
    price: 6000,
    fee: 600,
    currency: 'usd',
    actor_id: 'tut',
  })
  const rejected = await sessionIn(h, R)
  // A person's reason never passes for one the service sets itself.
  for (const reason of ['insufficient_funds', 'expired', 'deleted']) {
    const spoofed = await h.call('tut', 'PATCH', `${BASE}/${rejected}/reject`, { reason })
    t.equal(spoofed.statusCode, 400, `a reject with reason ${reason}`)
  }
  await h.call('tut', 'PATCH', `${BASE}/${rejected}/reject`, { reason: 'busy' })
  t.match(await h.call('stu', 'GET', `${BASE}/${rejected}`).then((r) => r.json()), {
    status: 'rejected',
    cancel_reason: 'busy',
    payment_status: 'authorized',
  })
  const body = (await eventsOf(h.db, rejected))[1]?.data
  t.same(body, {
    session_id: rejected,
    revision: 1,
    student_id: 'stu',
    tutor_id: 'tut',
    actor_id: 'tut',
    reason: 'busy',
  })
  const bad = await h.call('tut', 'PATCH', `${BASE}/${rejected}/reject`, { reason: 'x', extra: 1 })
  t.equal(bad.statusCode, 400, 'unknown fields are refused')
})

t.test('cancellation policy: a student’s late cancel is charged, nobody else’s', async (t) => {
  const h = await sessionsHarness(t)
  await parties(h)
  const at = async (hoursAhead: number) => {
    const id = await sessionIn(h, A)
    const start = new Date((await h.call('stu', 'GET', `${BASE}/${id}`)).json().start_time)
    h.clock.set(new Date(start.getTime() - hoursAhead * 3_600_000))
    return id
  }
  const late = await at(23)
  const res = await h.call('stu', 'PATCH', `${BASE}/${late}/cancel`)
  t.match(res.json(), { status: 'cancelled', amount_charged: 3000, payment_status: 'authorized' })
  t.match((await eventsOf(h.db, late))[1], {
    type: 'academic.session.cancelled',
    data: { charge: 3000, fee: 300, actor_id: 'stu', revision: 1 },
  })
  const inTime = await at(24)
  t.match((await h.call('stu', 'PATCH', `${BASE}/${inTime}/cancel`)).json(), { amount_charged: 0 })
  t.match((await eventsOf(h.db, inTime))[1]?.data, { charge: 0, fee: 0 })
  const byTutor = await at(1)
  t.match((await h.call('tut', 'PATCH', `${BASE}/${byTutor}/cancel`)).json(), { amount_charged: 0 })
  const unpaid = await at(1)
  await force(h.db, unpaid, { payment_status: 'pending' })
  t.match((await h.call('stu', 'PATCH', `${BASE}/${unpaid}/cancel`)).json(), {
    amount_charged: 0,
    payment_status: 'released',
  })
})

t.test(
  'reschedule: a new revision at a new price, back to requested, the hold to adjust',
  async (t) => {
    const h = await sessionsHarness(t)
    await parties(h)
    const id = await sessionIn(h, A)
    const moved = slot(h.clock, 'tut', 200, 90)
    const res = await h.call('stu', 'PATCH', `${BASE}/${id}`, {
      start_time: moved.start_time.replace('Z', '+00:00'),
      end_time: moved.end_time,
      note: 'later please',
    })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), {
      status: 'requested',
      revision: 2,
      price: 9000,
      fee: 900,
      payment_status: 'pending',
      note: 'later please',
      start_time: moved.start_time,
    })
    t.match((await eventsOf(h.db, id))[1], {
      type: 'academic.session.rescheduled',
      data: { session_id: id, revision: 2, price: 9000, fee: 900, start_time: moved.start_time },
    })
    // A tutor cannot accept until the wallet has held the new price.
    t.equal((await h.call('tut', 'PATCH', `${BASE}/${id}/accept`)).statusCode, 409)
    // Only the end moves: the start stays; a note alone makes no revision.
    const longer = await h.call('tut', 'PATCH', `${BASE}/${id}`, {
      end_time: new Date(new Date(moved.end_time).getTime() + 30 * 60_000).toISOString(),
    })
    t.match(longer.json(), { revision: 3, price: 12000, start_time: moved.start_time })
    const noted = await h.call('stu', 'PATCH', `${BASE}/${id}`, { note: null })
    t.match(noted.json(), { revision: 3, note: null })
    const same = await h.call('stu', 'PATCH', `${BASE}/${id}`, { start_time: moved.start_time })
    t.match(same.json(), { revision: 3 }, 'the same times are no reschedule')

    // Onto another open session of the student: 409.
    const other = await sessionIn(h, R)
    const otherStart = (await h.call('stu', 'GET', `${BASE}/${other}`)).json().start_time
    const clash = await h.call('stu', 'PATCH', `${BASE}/${id}`, {
      start_time: otherStart,
      end_time: new Date(new Date(otherStart).getTime() + 3_600_000).toISOString(),
    })
    t.equal(clash.statusCode, 409)
    t.equal(clash.json().type, 'https://tms.example/problems/overlapping-booking')
    for (const bad of [
      { start_time: 'soon' },
      { start_time: slot(h.clock, 'tut', -1).start_time },
      { reason: 'why' },
      { charge: 0 },
      {},
    ]) {
      const r = await h.call('stu', 'PATCH', `${BASE}/${id}`, bad)
      t.equal(r.statusCode, 400, JSON.stringify(bad))
      t.equal(answerProblem(r), undefined)
    }
  },
)

t.test('admin override: reason recorded, money follows, never out of completed', async (t) => {
  const h = await sessionsHarness(t)
  await parties(h)
  const id = await sessionIn(h, P)
  const url = `${BASE}/${id}`
  t.match((await h.call('stu', 'PATCH', url, { status: 'completed', reason: 'x' })).json(), {
    status: 400,
    errors: [{ field: 'status' }],
  })
  t.match((await h.call('tut', 'PATCH', url, { status: 'completed', reason: 'x' })).json(), {
    status: 400,
  })
  t.match((await h.call('adm', 'PATCH', url, { status: 'completed' })).json(), {
    status: 400,
    errors: [{ field: 'reason' }],
  })
  t.match(
    (await h.call('adm', 'PATCH', url, { status: 'completed', reason: 'x', charge: 5 })).json(),
    { status: 400, errors: [{ field: 'charge' }] },
  )
  t.equal((await h.call('adm', 'PATCH', url, { status: P, reason: 'x' })).statusCode, 409)
  const done = await h.call('adm', 'PATCH', url, { status: 'completed', reason: 'tutor forgot' })
  t.match(done.json(), { status: 'completed' })
  t.match((await eventsOf(h.db, id)).at(-1), {
    type: 'academic.session.completed',
    data: { actor_id: 'adm', price: 6000, fee: 600 },
  })
  t.match((await h.call('adm', 'GET', url)).json().history.at(-1), {
    from_status: P,
    to_status: 'completed',
    actor_role: 'admin',
    actor_id: 'adm',
    reason: 'tutor forgot',
  })
  const out = await h.call('adm', 'PATCH', url, { status: 'cancelled', reason: 'refund?' })
  t.equal(out.statusCode, 409, 'never out of completed')

  // To cancelled with a charge: captured from the hold, the rest released.
  const charged = await sessionIn(h, A)
  const spoofed = await h.call('adm', 'PATCH', `${BASE}/${charged}`, {
    status: 'cancelled',
    reason: 'expired',
  })
  t.equal(spoofed.statusCode, 400, 'an override cannot pass for an expiry either')
  const c = await h.call('adm', 'PATCH', `${BASE}/${charged}`, {
    status: 'cancelled',
    reason: 'no-show',
    charge: 2000,
  })
  t.match(c.json(), { status: 'cancelled', amount_charged: 2000, cancel_reason: 'no-show' })
  t.match((await eventsOf(h.db, charged)).at(-1)?.data, { charge: 2000, fee: 200, actor_id: 'adm' })
  const tooMuch = await sessionIn(h, A)
  t.equal(
    (
      await h.call('adm', 'PATCH', `${BASE}/${tooMuch}`, {
        status: 'cancelled',
        reason: 'x',
        charge: 6001,
      })
    ).statusCode,
    409,
  )
  t.equal(
    (await h.call('adm', 'PATCH', `${BASE}/${charged}`, { status: 'requested', reason: 'oops' }))
      .statusCode,
    409,
    'a session charged for its cancellation is not reopened',
  )

  // Reopened: a new revision asks the wallet for a new hold.
  const closed = await sessionIn(h, 'rejected')
  const reopened = await h.call('adm', 'PATCH', `${BASE}/${closed}`, {
    status: A,
    reason: 'the tutor changed their mind',
  })
  t.match(reopened.json(), {
    status: A,
    revision: 2,
    payment_status: 'pending',
    cancel_reason: null,
  })
  t.same(
    (await eventsOf(h.db, closed)).map((e) => [e.type, e.data.revision]),
    [
      ['academic.session.requested', 1],
      ['academic.session.requested', 2],
      ['academic.session.accepted', 2],
    ],
  )
})

t.test('overrides into accepted or processing respect the calendars', async (t) => {
  const h = await sessionsHarness(t)
  await parties(h)
  await h.addUser('stu2', 'student')
  const first = (await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 50))).json().id
  const second = (await h.call('stu2', 'POST', BASE, slot(h.clock, 'tut', 50, 30))).json().id
  await force(h.db, first, { payment_status: 'authorized' })
  t.equal((await h.call('tut', 'PATCH', `${BASE}/${first}/accept`)).statusCode, 200)
  const res = await h.call('adm', 'PATCH', `${BASE}/${second}`, { status: P, reason: 'force' })
  t.equal(res.statusCode, 409)
  t.match(res.json().detail, /the tutor has another accepted session/)
})

t.test('delete: the student’s request is cancelled and hidden; an admin’s any', async (t) => {
  const h = await sessionsHarness(t)
  await parties(h)
  const id = await sessionIn(h, R)
  t.equal((await h.call('stu', 'DELETE', `${BASE}/${id}`)).statusCode, 204)
  t.equal((await h.call('stu', 'GET', `${BASE}/${id}`)).statusCode, 404)
  t.equal((await h.call('adm', 'GET', `${BASE}/${id}`)).statusCode, 404)
  t.equal((await h.call('stu', 'DELETE', `${BASE}/${id}`)).statusCode, 404)
  t.same((await h.call('stu', 'GET', BASE)).json().items, [])
  t.match((await eventsOf(h.db, id)).at(-1), {
    type: 'academic.session.cancelled',
    data: { reason: 'deleted', charge: 0 },
  })
  const done = await sessionIn(h, 'completed')
  t.equal((await h.call('adm', 'DELETE', `${BASE}/${done}`)).statusCode, 204)
  t.equal((await eventsOf(h.db, done)).length, 1, 'a completed session only disappears')
})
