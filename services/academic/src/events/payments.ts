// 'academic.payments': the wallet's answers to the booking saga move each session's
// payment_status. Each event runs in the bus's transaction with its inbox record and locks the
// session's row first, so two events of one session never interleave; the pure rules of
// domain/payments.ts ignore stale revisions and anything that is not news. A declined hold ends
// the open session: cancelled with `insufficient_funds` (its cancelled event lets the wallet
// close the session, publishing nothing).
import type { Bus, Handlers } from '@tms/bus'
import type { ConsumerEventType } from '@tms/contracts'
import type { Transaction } from '@tms/db'
import type { AcademicDatabase } from '../db/schema.ts'
import { lockSession, updateSession } from '../db/sessions.ts'
import { paymentStep, type WalletEvent } from '../domain/payments.ts'
import { cancelBySystem, type MoveDeps } from '../use-cases/session-moves.ts'

type Trx = Transaction<AcademicDatabase>
type PaymentEventType = ConsumerEventType<'academic.payments'>

export function paymentHandlers(deps: MoveDeps): Handlers<AcademicDatabase, PaymentEventType> {
  const apply = async (trx: Trx, sessionId: string, event: WalletEvent) => {
    const row = await lockSession(trx, sessionId)
    // Sessions are never removed (a delete only hides them): one not here was never ours.
    if (!row) return
    const step = paymentStep(
      { status: row.status, revision: row.revision, paymentStatus: row.payment_status },
      event,
    )
    if (step.action === 'ignore') return
    const changes = { payment_status: step.paymentStatus, updated_at: deps.clock.now() }
    if (step.cancel) {
      await cancelBySystem(deps, trx, row, 'decline', changes)
      return
    }
    await updateSession(trx, row.id, changes)
  }
  return {
    'wallet.hold.placed': ({ data }, trx) =>
      apply(trx, data.session_id, { kind: 'placed', revision: data.revision }),
    'wallet.hold.declined': ({ data }, trx) =>
      apply(trx, data.session_id, { kind: 'declined', revision: data.revision }),
    'wallet.hold.released': ({ data }, trx) =>
      apply(trx, data.session_id, { kind: 'released', revision: data.revision }),
    'wallet.payment.captured': ({ data }, trx) => apply(trx, data.session_id, { kind: 'captured' }),
  }
}

export function subscribePayments(bus: Bus<AcademicDatabase>, deps: Omit<MoveDeps, 'bus'>): void {
  bus.subscribe('academic.payments', paymentHandlers({ ...deps, bus }))
}
