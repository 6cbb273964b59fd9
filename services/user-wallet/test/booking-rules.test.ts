import t from 'tap'
import { type HoldState, nextStep } from '../src/domain/booking.ts'

const open: HoldState = { status: 'open', studentId: 's', revision: 1, amount: 100 }
const requested = { type: 'requested' as const, revision: 1, studentId: 's', price: 100 }
const ended = {
  type: 'ended' as const,
  revision: 1,
  studentId: 's',
  tutorId: 'tu',
  charge: 0,
  fee: 0,
}
const completed = {
  type: 'completed' as const,
  revision: 1,
  studentId: 's',
  tutorId: 'tu',
  price: 100,
  fee: 10,
}

t.test('requested', async (t) => {
  t.match(nextStep(undefined, requested), { action: 'hold', amount: 100, revision: 1 })
  t.match(nextStep(open, requested), { action: 'ignore' })
  t.match(nextStep({ ...open, status: 'closed', amount: 0 }, requested), { action: 'ignore' })
  t.match(
    nextStep({ status: 'pending', studentId: null, revision: 2, amount: 150 }, requested),
    { action: 'hold', amount: 150, revision: 2 },
    'a reschedule that overtook its request sets the price',
  )
})

t.test('rescheduled', async (t) => {
  const r2 = { type: 'rescheduled' as const, revision: 2, price: 150 }
  t.match(nextStep(open, r2), { action: 'adjust', from: 100, to: 150, revision: 2 })
  t.match(nextStep({ ...open, revision: 3 }, r2), { action: 'ignore' }, 'older revision')
  t.match(nextStep({ ...open, revision: 2 }, r2), { action: 'ignore' }, 'same revision')
  t.match(nextStep(undefined, r2), { action: 'record', state: { status: 'pending', amount: 150 } })
  // A cancel carries the session's revision, never older than a reschedule made before it: a
  // reschedule of the released revision (or an older one) arriving late is ignored.
  t.match(nextStep({ ...open, status: 'released', amount: 0, revision: 2 }, r2), {
    action: 'ignore',
  })
})

t.test('rejected or cancelled', async (t) => {
  t.match(nextStep(undefined, ended), { action: 'record', state: { status: 'closed' } })
  t.match(nextStep(open, ended), { action: 'release', amount: 100 })
  t.match(nextStep({ ...open, status: 'declined', amount: 0 }, ended), {
    action: 'close',
    state: { status: 'closed' },
  })
  for (const status of ['released', 'captured', 'closed'] as const) {
    t.match(nextStep({ ...open, status, amount: 0 }, ended), { action: 'ignore' }, status)
  }
})

t.test('completed', async (t) => {
  t.match(nextStep(open, completed), { action: 'capture', price: 100, fee: 10, held: 100 })
  t.match(nextStep({ ...open, status: 'captured', amount: 0 }, completed), { action: 'ignore' })
  t.match(nextStep(undefined, completed), { action: 'wait' })
  t.match(nextStep({ ...open, amount: 80 }, completed), { action: 'capture', price: 80, fee: 10 })
})

t.test('a late cancel captures its charge from the hold', async (t) => {
  t.match(nextStep(open, { ...ended, charge: 50, fee: 5 }), {
    action: 'capture',
    price: 50,
    fee: 5,
    held: 100,
    tutorId: 'tu',
  })
  t.match(
    nextStep({ ...open, amount: 40 }, { ...ended, charge: 50, fee: 45 }),
    { action: 'capture', price: 40, fee: 40 },
    'never more than is held, never a fee above the capture',
  )
  t.match(nextStep({ ...open, status: 'declined', amount: 0 }, { ...ended, charge: 50, fee: 5 }), {
    action: 'close',
  })
  t.match(nextStep(undefined, { ...ended, charge: 50, fee: 5 }), {
    action: 'record',
    state: { status: 'closed' },
  })
})

t.test(
  'revisions: a reopened session gets a new hold; late news of its old life is stale',
  async (t) => {
    const requested2 = { ...requested, revision: 2, price: 80 }
    for (const status of ['released', 'closed', 'declined'] as const) {
      t.match(
        nextStep({ ...open, status, amount: 0 }, requested2),
        { action: 'hold', revision: 2, amount: 80 },
        `reopened after ${status}`,
      )
    }
    t.match(nextStep({ ...open, status: 'captured', amount: 0 }, requested2), { action: 'ignore' })
    t.match(
      nextStep(open, requested2),
      { action: 'adjust', from: 100, to: 80, revision: 2 },
      'reopened before the old hold was released',
    )
    t.match(nextStep({ ...open, revision: 2 }, ended), { action: 'ignore' }, 'a stale cancel')
    t.match(
      nextStep({ ...open, status: 'closed', amount: 0, revision: 1 }, requested),
      { action: 'ignore' },
      'the request a cancel overtook places no hold',
    )
    t.match(
      nextStep(undefined, { ...ended, revision: 3 }),
      { action: 'record', state: { status: 'closed', revision: 3 } },
      'closed at the cancel’s revision',
    )
    t.match(
      nextStep({ ...open, status: 'pending', studentId: null, revision: 3, amount: 90 }, ended),
      { action: 'ignore' },
      'a cancel older than a waiting reschedule is of an earlier life',
    )
    t.match(
      nextStep({ ...open, revision: 1 }, { ...ended, revision: 2 }),
      { action: 'release', revision: 2, amount: 100 },
      'released under the newest revision known',
    )
    const r3 = { type: 'rescheduled' as const, revision: 3, price: 70 }
    t.match(
      nextStep({ ...open, status: 'declined', amount: 0, revision: 2 }, r3),
      { action: 'hold', revision: 3, amount: 70 },
      'a reschedule after a declined revision tries again',
    )
    t.match(
      nextStep({ ...open, status: 'closed', amount: 0, revision: 1 }, r3),
      { action: 'hold', revision: 3, amount: 70 },
      'a reschedule of a reopened session that overtook its request',
    )
    t.match(nextStep({ ...open, status: 'captured', amount: 0, revision: 1 }, r3), {
      action: 'ignore',
    })
  },
)

t.test('completed waits for the hold of its revision', async (t) => {
  t.match(nextStep(open, { ...completed, revision: 2 }), { action: 'wait' })
  t.match(nextStep({ ...open, status: 'released', amount: 0 }, { ...completed, revision: 2 }), {
    action: 'wait',
  })
  t.match(nextStep({ ...open, status: 'released', amount: 0 }, completed), { action: 'ignore' })
  t.match(nextStep({ ...open, revision: 2 }, completed), { action: 'capture' })
})
