// 'user-wallet.booking': each academic event, as the booking step it is for its session
// (use-cases/booking.ts), in the bus's transaction with the event's inbox record.
import { type Bus, type Handlers, RetryLater } from '@tms/bus'
import type { ConsumerEventType } from '@tms/contracts'
import type { Transaction } from '@tms/db'
import type { WalletDatabase } from '../db/schema.ts'
import type { BookingEvent } from '../domain/booking.ts'
import { applyBookingEvent, type BookingDeps } from '../use-cases/booking.ts'

type Trx = Transaction<WalletDatabase>

export function bookingHandlers(
  deps: BookingDeps,
): Handlers<WalletDatabase, ConsumerEventType<'user-wallet.booking'>> {
  const apply = async (trx: Trx, sessionId: string, event: BookingEvent) => {
    const outcome = await applyBookingEvent(deps, trx, sessionId, event)
    // Not decidable yet: the bus retries it through its retry queues (logged as a wait).
    if (outcome) throw new RetryLater(outcome.wait)
  }
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

export function subscribeBooking(bus: Bus<WalletDatabase>, deps: Omit<BookingDeps, 'bus'>): void {
  bus.subscribe('user-wallet.booking', bookingHandlers({ ...deps, bus }))
}
