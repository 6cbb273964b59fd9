// 'user-wallet.booking': the wallet's side of the booking saga. Each event runs in the bus's
// transaction with its inbox record; the session's hold row is locked first, so two events of
// one session never interleave, and the pure rules of domain/booking.ts decide the step.
import { type Bus, type Handlers, RetryLater } from '@tms/bus'
import type { ConsumerEventType } from '@tms/contracts'
import type { Transaction } from '@tms/db'
import type { SessionHoldTable, WalletDatabase } from '../db/schema.ts'
import { type BookingEvent, type HoldState, nextStep } from '../domain/booking.ts'
import { capture, hold, InsufficientFundsError, release } from '../domain/ledger.ts'
import { post, walletBalance } from '../ledger.ts'

type Trx = Transaction<WalletDatabase>
export type EventPublisher = Pick<Bus, 'enqueue'>
type BookingEventType = ConsumerEventType<'user-wallet.booking'>

/** Each academic event, as the booking step it is for its session. */
export function bookingHandlers(bus: EventPublisher): Handlers<WalletDatabase, BookingEventType> {
  const apply = (trx: Trx, sessionId: string, event: BookingEvent) =>
    applyBookingEvent(bus, trx, sessionId, event)
  const ended = (
    trx: Trx,
    d: { session_id: string; revision: number; student_id: string; tutor_id: string },
    charge = { charge: 0, fee: 0 },
  ) =>
    apply(trx, d.session_id, {
      type: 'ended',
      revision: d.revision,
      studentId: d.student_id,
      tutorId: d.tutor_id,
      ...charge,
    })
  return {
    'academic.session.requested': ({ data: d }, trx) =>
      apply(trx, d.session_id, {
        type: 'requested',
        revision: d.revision,
        studentId: d.student_id,
        price: d.price,
      }),
    'academic.session.rescheduled': ({ data: d }, trx) =>
      apply(trx, d.session_id, { type: 'rescheduled', revision: d.revision, price: d.price }),
    'academic.session.rejected': ({ data }, trx) => ended(trx, data),
    'academic.session.cancelled': ({ data }, trx) =>
      ended(trx, data, { charge: data.charge, fee: data.fee }),
    'academic.session.completed': ({ data: d }, trx) =>
      apply(trx, d.session_id, {
        type: 'completed',
        revision: d.revision,
        studentId: d.student_id,
        tutorId: d.tutor_id,
        price: d.price,
        fee: d.fee,
      }),
  }
}

function stateOf(row: SessionHoldTable | undefined): HoldState | undefined {
  if (!row) return undefined
  return {
    status: row.status,
    studentId: row.student_id,
    revision: row.revision,
    amount: Number(row.amount),
  }
}

async function saveState(trx: Trx, sessionId: string, exists: boolean, state: HoldState) {
  const row = {
    student_id: state.studentId,
    revision: state.revision,
    amount: state.amount,
    status: state.status,
    updated_at: new Date(),
  }
  if (exists) {
    await trx.updateTable('session_hold').set(row).where('session_id', '=', sessionId).execute()
  } else {
    // A concurrent first event of the same session makes this a duplicate key: the bus's
    // transaction then fails and the event is retried, finding the row.
    await trx
      .insertInto('session_hold')
      .values({ session_id: sessionId, ...row })
      .execute()
  }
}

async function applyBookingEvent(
  bus: EventPublisher,
  trx: Trx,
  sessionId: string,
  event: BookingEvent,
): Promise<void> {
  const row = await trx
    .selectFrom('session_hold')
    .selectAll()
    .where('session_id', '=', sessionId)
    .forUpdate()
    .executeTakeFirst()
  const state = stateOf(row)
  const step = nextStep(state, event)
  const exists = row !== undefined
  const meta = { sessionId }

  /** Saves the session's new hold state and announces it with the student's balance. */
  const settle = async (
    state: HoldState & { studentId: string },
    type: 'wallet.hold.placed' | 'wallet.hold.declined' | 'wallet.hold.released',
    amount: number,
  ) => {
    await saveState(trx, sessionId, exists, state)
    const { available_balance } = await walletBalance(trx, state.studentId)
    await bus.enqueue(trx, type, {
      session_id: sessionId,
      revision: state.revision,
      student_id: state.studentId,
      amount,
      available_balance,
    })
  }

  switch (step.action) {
    case 'ignore':
      return
    case 'wait':
      throw new RetryLater(`session ${sessionId}: ${step.why}`)
    case 'record':
    case 'close':
      await saveState(trx, sessionId, exists, step.state)
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
      await saveState(trx, sessionId, exists, {
        status: 'captured',
        studentId,
        revision,
        amount: 0,
      })
      await bus.enqueue(trx, 'wallet.payment.captured', {
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

export function subscribeBooking(bus: Pick<Bus<WalletDatabase>, 'subscribe' | 'enqueue'>): void {
  bus.subscribe('user-wallet.booking', bookingHandlers(bus))
}
