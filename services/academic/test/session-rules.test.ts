// The pure session rules: every action by every actor from every status, the override, the
// cancellation policy and the payment status the wallet's events move. The expectations are
// written out here, not derived from the table under test.
import t from 'tap'
import { type PaymentFacts, paymentOnClose, paymentStep } from '../src/domain/payments.ts'
import {
  type Actor,
  actors,
  cancellationCharge,
  decide,
  decideOverride,
  overrideCharge,
  type SessionAction,
  type SessionFacts,
  type SessionStatus,
  sessionActions,
  sessionStatuses,
} from '../src/domain/sessions.ts'

const R = 'requested'
const A = 'accepted'
const P = 'processing'
const all: SessionStatus[] = [R, A, 'rejected', 'cancelled', P, 'completed']

/** action → actor → the statuses it may be taken from; an actor left out is refused with 403. */
const expected: Record<SessionAction, Partial<Record<Actor, SessionStatus[]>>> = {
  accept: { tutor: [R], admin: [R] },
  reject: { tutor: [R], admin: [R] },
  start: { tutor: [A], admin: [A] },
  complete: { tutor: [P], admin: [P] },
  cancel: { student: [R, A], tutor: [R, A], admin: [R, A, P] },
  reschedule: { student: [R, A], tutor: [R, A], admin: [R, A] },
  delete: { student: [R], admin: all },
  expire: { system: [R] },
  decline: { system: [R, A, P] },
}

const targetOf: Record<Exclude<SessionAction, 'delete'>, SessionStatus> = {
  accept: 'accepted',
  reject: 'rejected',
  start: 'processing',
  complete: 'completed',
  cancel: 'cancelled',
  reschedule: 'requested',
  expire: 'cancelled',
  decline: 'cancelled',
}

const now = new Date('2030-01-01T00:00:00Z')
const tomorrow = new Date('2030-01-02T00:00:00Z')
const facts = (
  status: SessionStatus,
  paymentStatus: SessionFacts['paymentStatus'] = 'authorized',
  startTime = tomorrow,
) => ({ status, paymentStatus, amountCharged: 0, startTime }) satisfies SessionFacts

t.test('every action by every actor from every status', async (t) => {
  t.equal(sessionStatuses.length, 6)
  let checked = 0
  for (const action of sessionActions) {
    for (const actor of actors) {
      for (const status of sessionStatuses) {
        const d = decide(
          action,
          actor,
          facts(status, 'authorized', action === 'expire' ? now : tomorrow),
          now,
        )
        const allowed = expected[action][actor]
        const label = `${actor} ${action} from ${status}`
        checked++
        if (!allowed) {
          t.match(d, { ok: false, refusal: 'forbidden' }, `${label}: 403`)
        } else if (!allowed.includes(status)) {
          t.match(d, { ok: false, refusal: 'conflict' }, `${label}: 409`)
        } else if (action === 'delete') {
          const open = [R, A, P].includes(status)
          t.match(d, { ok: true, to: open ? 'cancelled' : status }, label)
        } else {
          t.match(d, { ok: true, from: status, to: targetOf[action] }, label)
        }
      }
    }
  }
  t.equal(checked, 9 * 4 * 6)
})

t.test('the events each move publishes', async (t) => {
  const events = (action: SessionAction, actor: Actor, status: SessionStatus) => {
    const d = decide(
      action,
      actor,
      facts(status, 'authorized', action === 'expire' ? now : tomorrow),
      now,
    )
    return d.ok ? d.events : undefined
  }
  t.same(events('accept', 'tutor', R), ['academic.session.accepted'])
  t.same(events('reject', 'tutor', R), ['academic.session.rejected'])
  t.same(events('start', 'tutor', A), [], 'the catalogue has no event for processing')
  t.same(events('complete', 'tutor', P), ['academic.session.completed'])
  t.same(events('cancel', 'student', A), ['academic.session.cancelled'])
  t.same(events('expire', 'system', R), ['academic.session.cancelled'])
  t.same(events('decline', 'system', A), ['academic.session.cancelled'])
  t.same(events('reschedule', 'tutor', A), ['academic.session.rescheduled'])
  t.same(events('delete', 'student', R), ['academic.session.cancelled'], 'its hold is released')
  t.same(events('delete', 'admin', 'completed'), [], 'a closed session only disappears')
  t.match(decide('reschedule', 'student', facts(A), now), { newRevision: true, to: 'requested' })
})

t.test('a tutor accepts only an authorized session', async (t) => {
  for (const payment of ['pending', 'declined', 'released', 'captured'] as const) {
    t.match(
      decide('accept', 'tutor', facts(R, payment), now),
      { ok: false, refusal: 'conflict' },
      payment,
    )
    t.match(
      decide('accept', 'admin', facts(R, payment), now),
      { ok: false, refusal: 'conflict' },
      payment,
    )
  }
  t.match(decide('accept', 'tutor', facts(R, 'authorized'), now), { ok: true })
})

t.test('a request unanswered at its start time has expired', async (t) => {
  const due = facts(R, 'authorized', now)
  t.match(decide('accept', 'tutor', due, now), { ok: false, refusal: 'conflict' })
  t.match(decide('reschedule', 'student', due, now), { ok: false, refusal: 'conflict' })
  t.match(decide('expire', 'system', due, now), { ok: true, to: 'cancelled' })
  t.match(decide('cancel', 'student', due, now), { ok: true }, 'it can still be cancelled')
  t.match(decide('reject', 'tutor', due, now), { ok: true }, 'or rejected')
  t.match(
    decide('expire', 'system', facts(R), now),
    { ok: false, refusal: 'conflict' },
    'not before its start',
  )
  t.match(
    decide('start', 'tutor', facts(A, 'authorized', now), now),
    { ok: true },
    'an accepted session starts at its time',
  )
})

t.test('admin override: any status to any other, never out of completed', async (t) => {
  for (const from of sessionStatuses) {
    for (const to of sessionStatuses) {
      const d = decideOverride(facts(from), to)
      if (from === 'completed' || from === to) {
        t.match(d, { ok: false, refusal: 'conflict' }, `${from} → ${to}`)
      } else {
        t.match(d, { ok: true, from, to }, `${from} → ${to}`)
      }
    }
  }
  // Money follows: the events the wallet acts on.
  const events = (from: SessionStatus, to: SessionStatus) => {
    const d = decideOverride(facts(from), to)
    return d.ok ? { events: d.events, newRevision: d.newRevision } : undefined
  }
  t.same(events(P, 'completed'), { events: ['academic.session.completed'], newRevision: false })
  t.same(events(R, 'completed'), { events: ['academic.session.completed'], newRevision: false })
  t.same(events(A, 'cancelled'), { events: ['academic.session.cancelled'], newRevision: false })
  t.same(events(P, 'rejected'), { events: ['academic.session.rejected'], newRevision: false })
  t.same(events(R, 'accepted'), { events: ['academic.session.accepted'], newRevision: false })
  t.same(events(P, 'requested'), { events: [], newRevision: false }, 'the hold stays')
  t.same(events(A, 'processing'), { events: [], newRevision: false })
  t.same(
    events('cancelled', 'accepted'),
    { events: ['academic.session.requested', 'academic.session.accepted'], newRevision: true },
    'reopening asks for a new hold',
  )
  t.same(events('rejected', 'requested'), {
    events: ['academic.session.requested'],
    newRevision: true,
  })
  t.same(events('cancelled', 'completed'), {
    events: ['academic.session.requested', 'academic.session.completed'],
    newRevision: true,
  })
  t.same(events('cancelled', 'rejected'), {
    events: ['academic.session.rejected'],
    newRevision: false,
  })
  t.match(
    decideOverride({ ...facts('cancelled', 'captured'), amountCharged: 50 }, A),
    { ok: false, refusal: 'conflict' },
    'a session charged for its cancellation is not reopened',
  )
})

t.test('cancellation policy', async (t) => {
  const policy = { noticeHours: 24, lateCancelBps: 5000, platformFeeBps: 1000 }
  const session = (
    hoursAhead: number,
    status: SessionStatus = A,
    payment = 'authorized' as const,
  ) => ({
    ...facts(status, payment),
    price: 1001,
    startTime: new Date(now.getTime() + hoursAhead * 3_600_000),
  })
  t.same(cancellationCharge(session(23), 'student', now, policy), { charge: 501, fee: 50 })
  t.same(
    cancellationCharge(session(24), 'student', now, policy),
    { charge: 0, fee: 0 },
    'exactly the notice is in time',
  )
  t.same(cancellationCharge(session(23.99), 'student', now, policy), { charge: 501, fee: 50 })
  t.same(cancellationCharge(session(1), 'tutor', now, policy), { charge: 0, fee: 0 }, 'tutor')
  t.same(cancellationCharge(session(1), 'admin', now, policy), { charge: 0, fee: 0 }, 'admin')
  t.same(
    cancellationCharge(session(1, R), 'student', now, policy),
    { charge: 0, fee: 0 },
    'a request',
  )
  t.same(
    cancellationCharge({ ...session(1), paymentStatus: 'pending' }, 'student', now, policy),
    { charge: 0, fee: 0 },
    'no hold to charge',
  )
  t.same(cancellationCharge(session(1), 'student', now, { ...policy, lateCancelBps: 0 }), {
    charge: 0,
    fee: 0,
  })

  const s = { ...facts(A), price: 1000 }
  t.same(overrideCharge(s, 1000, 250), { charge: 1000, fee: 25 })
  t.same(overrideCharge(s, 0, 250), { charge: 0, fee: 0 })
  t.match(overrideCharge(s, 1001, 250), { ok: false, refusal: 'conflict' })
  t.match(overrideCharge(s, -1, 250), { ok: false, refusal: 'conflict' })
  t.match(overrideCharge({ ...s, paymentStatus: 'pending' }, 10, 250), { ok: false })
  t.same(overrideCharge({ ...s, paymentStatus: 'pending' }, 0, 250), { charge: 0, fee: 0 })
})

t.test('payment status from the wallet’s events', async (t) => {
  const session = (
    paymentStatus: PaymentFacts['paymentStatus'],
    revision = 2,
    status: SessionStatus = R,
  ) => ({ status, revision, paymentStatus }) satisfies PaymentFacts
  t.match(paymentStep(session('pending'), { kind: 'placed', revision: 2 }), {
    action: 'set',
    paymentStatus: 'authorized',
    cancel: false,
  })
  t.match(
    paymentStep(session('pending'), { kind: 'placed', revision: 1 }),
    { action: 'ignore' },
    'a hold of an older revision is stale',
  )
  t.match(paymentStep(session('authorized'), { kind: 'placed', revision: 2 }), { action: 'ignore' })
  t.match(paymentStep(session('pending'), { kind: 'declined', revision: 2 }), {
    action: 'set',
    paymentStatus: 'declined',
    cancel: true,
  })
  t.match(paymentStep(session('authorized', 2, A), { kind: 'declined', revision: 2 }), {
    cancel: true,
  })
  t.match(
    paymentStep(session('pending', 2, 'cancelled'), { kind: 'declined', revision: 2 }),
    { action: 'set', paymentStatus: 'declined', cancel: false },
    'a closed session is not cancelled again',
  )
  t.match(
    paymentStep(session('pending'), { kind: 'declined', revision: 1 }),
    { action: 'ignore' },
    'a stale decline cancels nothing',
  )
  t.match(paymentStep(session('authorized', 2, 'cancelled'), { kind: 'released', revision: 2 }), {
    paymentStatus: 'released',
  })
  t.match(
    paymentStep(session('released', 2, 'cancelled'), { kind: 'placed', revision: 2 }),
    { action: 'ignore' },
    'a hold reported after its release changes nothing',
  )
  t.match(paymentStep(session('authorized', 2, 'completed'), { kind: 'captured' }), {
    paymentStatus: 'captured',
  })
  t.match(paymentStep(session('captured', 2, 'completed'), { kind: 'captured' }), {
    action: 'ignore',
  })
  t.equal(paymentOnClose('pending'), 'released')
  t.equal(paymentOnClose('authorized'), 'authorized')
  t.equal(paymentOnClose('declined'), 'declined')
})
