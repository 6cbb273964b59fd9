import t from 'tap'
import { type HoldState, nextStep } from '../src/domain/booking.ts'

const open: HoldState = { status: 'open', studentId: 's', revision: 1, amount: 100 }
const requested = { type: 'requested' as const, revision: 1, studentId: 's', price: 100 }
const ended = { type: 'ended' as const, studentId: 's' }
const completed = { type: 'completed' as const, studentId: 's', tutorId: 'tu', price: 100, fee: 10 }

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
  t.match(nextStep({ ...open, status: 'released', amount: 0 }, r2), { action: 'ignore' })
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
