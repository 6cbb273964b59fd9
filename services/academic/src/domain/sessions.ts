// The class-session state machine, free of any database: who may move a session from which
// status to which, what the move costs (a late cancellation's charge), and which event of the
// SPEC's catalogue announces it (the wallet moves the money on those events).
//
//   requested → accepted | rejected | cancelled | requested (rescheduled, a new revision)
//   accepted  → processing | cancelled | requested (rescheduled)
//   processing → completed
//   and an admin's override: any status to any other, except out of completed.
import { lateCancelCharge, platformFee } from './pricing.ts'
import type { ConflictKind } from './session-errors.ts'

export const sessionStatuses = [
  'requested',
  'accepted',
  'rejected',
  'cancelled',
  'processing',
  'completed',
] as const
export type SessionStatus = (typeof sessionStatuses)[number]

/** The statuses a session holds money and a place in the calendar in. */
export const openStatuses = [
  'requested',
  'accepted',
  'processing',
] as const satisfies readonly SessionStatus[]
/** The statuses that occupy the tutor's and the student's time for sure (never overlapping). */
export const bookedStatuses = ['accepted', 'processing'] as const satisfies readonly SessionStatus[]

export function isOpen(status: SessionStatus): boolean {
  return (openStatuses as readonly SessionStatus[]).includes(status)
}

/** The caller's part in a session; `system` is the service itself (expiry, a declined hold). */
export type Actor = 'student' | 'tutor' | 'admin' | 'system'
export const actors = ['student', 'tutor', 'admin', 'system'] as const satisfies readonly Actor[]

export type SessionAction =
  | 'accept'
  | 'reject'
  | 'start'
  | 'complete'
  | 'cancel'
  | 'reschedule'
  | 'delete'
  | 'expire'
  | 'decline'
export const sessionActions = [
  'accept',
  'reject',
  'start',
  'complete',
  'cancel',
  'reschedule',
  'delete',
  'expire',
  'decline',
] as const satisfies readonly SessionAction[]

/**
 * From which statuses each actor may take each action; an actor missing from an action may
 * never take it (403), a status missing from the actor's list is an illegal change (409).
 * This is the SPEC's role table and status graph in one place.
 */
export const transitions: Record<
  SessionAction,
  Partial<Record<Actor, readonly SessionStatus[]>>
> = {
  accept: { tutor: ['requested'], admin: ['requested'] },
  reject: { tutor: ['requested'], admin: ['requested'] },
  start: { tutor: ['accepted'], admin: ['accepted'] },
  complete: { tutor: ['processing'], admin: ['processing'] },
  // Students and tutors cancel before processing; an admin also during it.
  cancel: {
    student: ['requested', 'accepted'],
    tutor: ['requested', 'accepted'],
    admin: ['requested', 'accepted', 'processing'],
  },
  reschedule: {
    student: ['requested', 'accepted'],
    tutor: ['requested', 'accepted'],
    admin: ['requested', 'accepted'],
  },
  // The student takes back a request; an admin removes any session (an open one is
  // cancelled first, so its hold is released).
  delete: { student: ['requested'], admin: [...sessionStatuses] },
  expire: { system: ['requested'] },
  decline: { system: ['requested', 'accepted', 'processing'] },
}

/** Where each action leads (delete: see deleteOutcome). */
const targets: Record<Exclude<SessionAction, 'delete'>, SessionStatus> = {
  accept: 'accepted',
  reject: 'rejected',
  start: 'processing',
  complete: 'completed',
  cancel: 'cancelled',
  reschedule: 'requested',
  expire: 'cancelled',
  decline: 'cancelled',
}

export const paymentStatuses = [
  'pending',
  'authorized',
  'declined',
  'released',
  'captured',
] as const
export type PaymentStatus = (typeof paymentStatuses)[number]

/** The events of the SPEC's catalogue that academic publishes about a session. */
export type SessionEvent =
  | 'academic.session.requested'
  | 'academic.session.rescheduled'
  | 'academic.session.accepted'
  | 'academic.session.rejected'
  | 'academic.session.cancelled'
  | 'academic.session.completed'

/** The `cancel_reason` the service itself sets. */
export const systemCancelReasons = {
  expire: 'expired',
  decline: 'insufficient_funds',
  delete: 'deleted',
} as const

export interface SessionFacts {
  status: SessionStatus
  paymentStatus: PaymentStatus
  /** Charged by a late cancellation or an override (minor units). */
  amountCharged: number
  startTime: Date
}

export type Refusal = {
  ok: false
  /** forbidden: the actor may never do this (403); conflict: not now, not from here (409). */
  refusal: 'forbidden' | 'conflict'
  kind?: ConflictKind
  detail: string
}

export type Move = {
  ok: true
  from: SessionStatus
  to: SessionStatus
  /** A new revision starts: the session asks the wallet for a (new) hold. */
  newRevision: boolean
  /** What announces the move, in order; the wallet acts on them. */
  events: SessionEvent[]
}

export type Decision = Move | Refusal

const forbidden = (detail: string): Refusal => ({ ok: false, refusal: 'forbidden', detail })
const conflict = (detail: string, kind: ConflictKind = 'illegal-transition'): Refusal => ({
  ok: false,
  refusal: 'conflict',
  kind,
  detail,
})

/** The event that announces arriving at `to` (none for requested or processing). */
function arrivalEvent(to: SessionStatus): SessionEvent | undefined {
  switch (to) {
    case 'accepted':
      return 'academic.session.accepted'
    case 'rejected':
      return 'academic.session.rejected'
    case 'cancelled':
      return 'academic.session.cancelled'
    case 'completed':
      return 'academic.session.completed'
    default:
      return undefined
  }
}

/** A request still unanswered at its start time has expired, swept or not yet. */
export function hasExpired(
  session: Pick<SessionFacts, 'status' | 'startTime'>,
  now: Date,
): boolean {
  return session.status === 'requested' && session.startTime.getTime() <= now.getTime()
}

/** Whether `actor` may take `action` on a session in its state at `now`, and what follows. */
export function decide(
  action: SessionAction,
  actor: Actor,
  session: SessionFacts,
  now: Date,
): Decision {
  const from = session.status
  const allowedFrom = transitions[action][actor]
  if (!allowedFrom) {
    return forbidden(`a ${actor} cannot ${action} a session`)
  }
  if (!allowedFrom.includes(from)) {
    return conflict(
      `the session is ${from}: it cannot be ${pastTense(action)}${byWhom(action, actor)}`,
    )
  }
  const expired = hasExpired(session, now)
  if (action === 'expire' && !expired) {
    return conflict('the request has not reached its start time')
  }
  if ((action === 'accept' || action === 'reschedule') && expired) {
    // The expiry job may not have swept it yet; it is expired all the same.
    return conflict('the request was not answered by its start time: it has expired')
  }
  if (action === 'accept' && session.paymentStatus !== 'authorized') {
    return conflict(
      `the session's payment is ${session.paymentStatus}: only an authorized session can be accepted`,
      'payment-not-authorized',
    )
  }
  if (action === 'delete') {
    const to = isOpen(from) ? 'cancelled' : from
    const events: SessionEvent[] = isOpen(from) ? ['academic.session.cancelled'] : []
    return { ok: true, from, to, newRevision: false, events }
  }
  const to = targets[action]
  if (action === 'reschedule') {
    return { ok: true, from, to, newRevision: true, events: ['academic.session.rescheduled'] }
  }
  const event = arrivalEvent(to)
  return { ok: true, from, to, newRevision: false, events: event ? [event] : [] }
}

function pastTense(action: SessionAction): string {
  return {
    accept: 'accepted',
    reject: 'rejected',
    start: 'started',
    complete: 'completed',
    cancel: 'cancelled',
    reschedule: 'rescheduled',
    delete: 'deleted',
    expire: 'expired',
    decline: 'declined',
  }[action]
}

function byWhom(action: SessionAction, actor: Actor): string {
  // Saying why helps: a student or tutor can no longer cancel once the session has started.
  if (action === 'cancel' && actor !== 'admin') return ' by its student or tutor'
  return ''
}

/**
 * An admin's override to `to`: any status but the current one, never out of completed. Money
 * follows: to completed → capture, to rejected or cancelled → release. A session taken out of
 * rejected or cancelled starts a new revision and asks for a new hold (its old one is gone),
 * unless money was already captured from it (a late-cancel charge), which only a refund could
 * undo.
 */
export function decideOverride(session: SessionFacts, to: SessionStatus): Decision {
  const from = session.status
  if (from === 'completed') {
    return conflict('a completed session cannot be overridden (refunds are a feature of their own)')
  }
  if (from === to) return conflict(`the session is already ${from}`)
  // Out of rejected or cancelled into a status that holds money (or is paid).
  const reopening = !isOpen(from) && (isOpen(to) || to === 'completed')
  if (reopening && (session.amountCharged > 0 || session.paymentStatus === 'captured')) {
    return conflict('money was captured from this cancelled session; it cannot be reopened')
  }
  const events: SessionEvent[] = reopening ? ['academic.session.requested'] : []
  const arrival = arrivalEvent(to)
  if (arrival) events.push(arrival)
  return { ok: true, from, to, newRevision: reopening, events }
}

export interface CancellationPolicy {
  /** A student's cancel this close to the start (or closer) is late. */
  noticeHours: number
  /** The late charge, of the price. */
  lateCancelBps: number
  platformFeeBps: number
}

export interface Charge {
  charge: number
  /** The platform's part of the charge, at the platform fee rate. */
  fee: number
}

const noCharge: Charge = { charge: 0, fee: 0 }

/**
 * The SPEC's cancellation policy: a student who cancels an accepted session less than the
 * notice before its start pays a share of its price, captured from the hold. Only a hold that
 * is there can pay (an authorized payment); every other cancel is free.
 */
export function cancellationCharge(
  session: SessionFacts & { price: number },
  actor: Actor,
  now: Date,
  policy: CancellationPolicy,
): Charge {
  if (actor !== 'student' || session.status !== 'accepted') return noCharge
  if (session.paymentStatus !== 'authorized') return noCharge
  const notice = session.startTime.getTime() - now.getTime()
  if (notice >= policy.noticeHours * 3_600_000) return noCharge
  const charge = lateCancelCharge(session.price, policy.lateCancelBps)
  return { charge, fee: platformFee(charge, policy.platformFeeBps) }
}

/** An admin's charge on an override to cancelled (0 to the price), with the same fee rate. */
export function overrideCharge(
  session: SessionFacts & { price: number },
  charge: number,
  platformFeeBps: number,
): Charge | Refusal {
  if (!Number.isSafeInteger(charge) || charge < 0 || charge > session.price) {
    return conflict(`the charge must be from 0 to the price (${session.price})`)
  }
  if (charge > 0 && session.paymentStatus !== 'authorized') {
    return conflict(
      `the session's payment is ${session.paymentStatus}: there is no hold to charge`,
      'payment-not-authorized',
    )
  }
  return { charge, fee: platformFee(charge, platformFeeBps) }
}
