// The wallet's side of the booking saga, for one academic event of a session: in the bus's
// transaction, the session's hold row is locked first (two events of one session never
// interleave), the pure rules of domain/booking.ts decide the step, the ledger moves the money
// and the outcome is published through the outbox.
import type { Bus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { Transaction } from '@tms/db'
import { post, walletBalance } from '../db/ledger.ts'
import type { WalletDatabase } from '../db/schema.ts'
import { lockHold, saveHold } from '../db/session-holds.ts'
import { type BookingEvent, type HoldState, nextStep } from '../domain/booking.ts'
import { capture, hold, InsufficientFundsError, release } from '../domain/ledger.ts'

export interface BookingDeps {
  bus: Pick<Bus, 'enqueue'>
  clock: Clock
}

type HoldEvent = 'wallet.hold.placed' | 'wallet.hold.declined' | 'wallet.hold.released'

/**
 * Applies the event to its session. Returns `{ wait }` when it cannot be decided yet (a
 * completion before its request was handled): the caller retries it later.
 */
export async function applyBookingEvent(
  deps: BookingDeps,
  trx: Transaction<WalletDatabase>,
  sessionId: string,
  event: BookingEvent,
): Promise<{ wait: string } | undefined> {
  const state = await lockHold(trx, sessionId)
  const step = nextStep(state, event)
  const exists = state !== undefined
  const now = deps.clock.now()
  const meta = { sessionId, now }

  /** Saves the session's new hold state and announces it with the student's balance. */
  const settle = async (
    next: HoldState & { studentId: string },
    type: HoldEvent,
    amount: number,
  ) => {
    await saveHold(trx, sessionId, exists, next, now)
    const { available_balance } = await walletBalance(trx, next.studentId)
    await deps.bus.enqueue(trx, type, {
      session_id: sessionId,
      revision: next.revision,
      student_id: next.studentId,
      amount,
      available_balance,
    })
  }

  switch (step.action) {
    case 'ignore':
      return
    case 'wait':
      return { wait: `session ${sessionId}: ${step.why}` }
    case 'record':
    case 'close':
      await saveHold(trx, sessionId, exists, step.state, now)
      return
    case 'hold': {
      const { studentId, revision, amount } = step
      try {
        await post(trx, hold(studentId, amount), meta)
      } catch (err) {
        if (!(err instanceof InsufficientFundsError)) throw err
        const declined = { status: 'declined', studentId, revision, amount: 0 } as const
        await settle(declined, 'wallet.hold.declined', amount)
        return
      }
      await settle({ status: 'open', studentId, revision, amount }, 'wallet.hold.placed', amount)
      return
    }
    case 'adjust': {
      const { studentId, revision, from, to } = step
      try {
        if (to > from) await post(trx, hold(studentId, to - from), meta)
        else if (to < from) await post(trx, release(studentId, from - to), meta)
      } catch (err) {
        if (!(err instanceof InsufficientFundsError)) throw err
        // The new price cannot be covered: the session will be cancelled, so the old hold
        // goes back to the student now.
        await post(trx, release(studentId, from), meta)
        const declined = { status: 'declined', studentId, revision, amount: 0 } as const
        await settle(declined, 'wallet.hold.declined', to)
        return
      }
      await settle({ status: 'open', studentId, revision, amount: to }, 'wallet.hold.placed', to)
      return
    }
    case 'release': {
      const { studentId, revision, amount } = step
      await post(trx, release(studentId, amount), meta)
      const released = { status: 'released', studentId, revision, amount: 0 } as const
      await settle(released, 'wallet.hold.released', amount)
      return
    }
    case 'capture': {
      const { studentId, tutorId, revision, held, price, fee } = step
      const posted = await post(trx, capture(studentId, tutorId, price, fee), meta)
      if (held > price) await post(trx, release(studentId, held - price), meta)
      const captured = { status: 'captured', studentId, revision, amount: 0 } as const
      await saveHold(trx, sessionId, exists, captured, now)
      await deps.bus.enqueue(trx, 'wallet.payment.captured', {
        session_id: sessionId,
        student_id: studentId,
        tutor_id: tutorId,
        price,
        fee,
        transaction_id: posted.transactionId,
      })
      return
    }
  }
}
