// The session's `payment_status`, moved by the wallet's events. Events come at least once and
// in any order, so each one is applied only if it says something newer: an event of an older
// revision than the session's is stale (the session was rescheduled or reopened since), and
// within a revision the status only moves forward: pending → authorized → one of declined,
// released or captured, which is final.
import { isOpen, type PaymentStatus, type SessionStatus } from './sessions.ts'

export type WalletEvent =
  | { kind: 'placed' | 'declined' | 'released'; revision: number }
  /** A capture (completion or a late cancel's charge) ends the session's money for good. */
  | { kind: 'captured' }

export interface PaymentFacts {
  status: SessionStatus
  revision: number
  paymentStatus: PaymentStatus
}

export type PaymentStep =
  | { action: 'ignore'; why: string }
  /** Set the payment status; `cancel`: the hold was declined, so the open session ends. */
  | { action: 'set'; paymentStatus: PaymentStatus; cancel: boolean }

const rank: Record<PaymentStatus, number> = {
  pending: 0,
  authorized: 1,
  declined: 2,
  released: 2,
  captured: 2,
}

const reached: Record<WalletEvent['kind'], PaymentStatus> = {
  placed: 'authorized',
  declined: 'declined',
  released: 'released',
  captured: 'captured',
}

export function paymentStep(session: PaymentFacts, event: WalletEvent): PaymentStep {
  const next = reached[event.kind]
  if (event.kind === 'captured') {
    if (session.paymentStatus === 'captured') return { action: 'ignore', why: 'already captured' }
    return { action: 'set', paymentStatus: 'captured', cancel: false }
  }
  if (event.revision < session.revision) {
    return {
      action: 'ignore',
      why: `revision ${event.revision} is older than the session's ${session.revision}`,
    }
  }
  if (rank[next] <= rank[session.paymentStatus]) {
    return { action: 'ignore', why: `the payment is already ${session.paymentStatus}` }
  }
  return {
    action: 'set',
    paymentStatus: next,
    cancel: event.kind === 'declined' && isOpen(session.status),
  }
}

/**
 * The payment status of a session that is being closed (rejected, cancelled, expired) while no
 * hold of its revision has been reported: `released` at once, since the wallet releases any
 * hold the request places later, or places none (a cancel that overtook its request) and then
 * says nothing. An authorized hold stays `authorized` until the wallet reports its release.
 */
export function paymentOnClose(paymentStatus: PaymentStatus): PaymentStatus {
  return paymentStatus === 'pending' ? 'released' : paymentStatus
}
