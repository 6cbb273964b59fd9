// The wallet's side of the booking saga as a pure state machine: from a session's hold state
// and an academic event, what to do. Events may come twice and in any order; the inbox drops
// exact duplicates, and these rules make every other order come out right.

export const holdStatuses = [
  /** A reschedule arrived before its request: the price is known, no student, no hold yet. */
  'pending',
  'open',
  'declined',
  'released',
  'captured',
  /** Rejected or cancelled before any hold existed: a later request places none. */
  'closed',
] as const
export type HoldStatus = (typeof holdStatuses)[number]

export interface HoldState {
  status: HoldStatus
  studentId: string | null
  revision: number
  /** What is held now (minor units); for pending, the price of the newest revision. */
  amount: number
}

export type BookingEvent =
  | { type: 'requested'; revision: number; studentId: string; price: number }
  | { type: 'rescheduled'; revision: number; price: number }
  /** Rejected or cancelled; a late cancel captures `charge` (of which `fee` to the platform). */
  | {
      type: 'ended'
      revision: number
      studentId: string
      tutorId: string
      charge: number
      fee: number
    }
  | {
      type: 'completed'
      revision: number
      studentId: string
      tutorId: string
      price: number
      fee: number
    }

export type BookingStep =
  /** Nothing to do (a stale revision, or the session is already settled). */
  | { action: 'ignore'; why: string }
  /** Remember the session (pending or closed) without moving money or publishing. */
  | { action: 'record'; state: HoldState }
  /** Hold `amount` for the given revision (placed on success, declined otherwise). */
  | { action: 'hold'; studentId: string; revision: number; amount: number }
  /** Move the open hold from `from` to `to` for the new revision. */
  | { action: 'adjust'; studentId: string; revision: number; from: number; to: number }
  | { action: 'release'; studentId: string; revision: number; amount: number }
  /** A declined session ends: closed, nothing to release, nothing published. */
  | { action: 'close'; state: HoldState }
  | {
      action: 'capture'
      studentId: string
      tutorId: string
      revision: number
      held: number
      price: number
      fee: number
    }
  /** Cannot be decided yet (completed before its request): retry the event later. */
  | { action: 'wait'; why: string }

/** Settled for good: the session's money went somewhere and a capture is never undone here. */
const settled = (state: HoldState) => state.status === 'captured'
/** Ended without money kept: an admin may reopen the session, which asks for a new hold. */
const closedStatuses: readonly HoldStatus[] = ['declined', 'released', 'closed']

export function nextStep(state: HoldState | undefined, event: BookingEvent): BookingStep {
  switch (event.type) {
    case 'requested': {
      if (!state) {
        return {
          action: 'hold',
          studentId: event.studentId,
          revision: event.revision,
          amount: event.price,
        }
      }
      if (state.status === 'pending') {
        // A newer reschedule came first: hold its price, not the request's.
        const newer = state.revision > event.revision
        return {
          action: 'hold',
          studentId: event.studentId,
          revision: newer ? state.revision : event.revision,
          amount: newer ? state.amount : event.price,
        }
      }
      if (settled(state) || event.revision <= state.revision) {
        return { action: 'ignore', why: `the session is already ${state.status}` }
      }
      // A request of a newer revision: an admin reopened the session.
      if (state.status === 'open') {
        // Its old hold was not released yet (that cancel is late, and stale when it comes).
        return {
          action: 'adjust',
          studentId: state.studentId ?? event.studentId,
          revision: event.revision,
          from: state.amount,
          to: event.price,
        }
      }
      return {
        action: 'hold',
        studentId: event.studentId,
        revision: event.revision,
        amount: event.price,
      }
    }
    case 'rescheduled': {
      if (!state) {
        return {
          action: 'record',
          state: {
            status: 'pending',
            studentId: null,
            revision: event.revision,
            amount: event.price,
          },
        }
      }
      if (event.revision <= state.revision) {
        return {
          action: 'ignore',
          why: `revision ${event.revision} is not newer than ${state.revision}`,
        }
      }
      if (state.status === 'pending') {
        return {
          action: 'record',
          state: { ...state, revision: event.revision, amount: event.price },
        }
      }
      if (state.status === 'open' && state.studentId !== null) {
        return {
          action: 'adjust',
          studentId: state.studentId,
          revision: event.revision,
          from: state.amount,
          to: event.price,
        }
      }
      if (closedStatuses.includes(state.status) && state.studentId !== null) {
        // A newer revision of a session this wallet saw end: it was reopened, and this
        // reschedule overtook the reopening request (or followed a declined revision): hold the
        // new price; the older request is ignored when it comes.
        return {
          action: 'hold',
          studentId: state.studentId,
          revision: event.revision,
          amount: event.price,
        }
      }
      return { action: 'ignore', why: `the session is already ${state.status}` }
    }
    case 'ended': {
      if (state && event.revision < state.revision) {
        // About an earlier life of the session: it was reopened since (a cancel carries the
        // revision of its moment, never older than a reschedule before it).
        return {
          action: 'ignore',
          why: `revision ${event.revision} is older than ${state.revision}`,
        }
      }
      const revision = Math.max(state?.revision ?? 0, event.revision)
      if (!state || state.status === 'pending') {
        return {
          action: 'record',
          state: { status: 'closed', studentId: event.studentId, revision, amount: 0 },
        }
      }
      if (state.status === 'open') {
        const studentId = state.studentId ?? event.studentId
        if (event.charge > 0) {
          // A late cancel: its charge is captured from the hold, the rest goes back.
          const price = Math.min(event.charge, state.amount)
          return {
            action: 'capture',
            studentId,
            tutorId: event.tutorId,
            revision,
            held: state.amount,
            price,
            fee: Math.min(event.fee, price),
          }
        }
        return { action: 'release', studentId, revision, amount: state.amount }
      }
      if (state.status === 'declined') {
        return { action: 'close', state: { ...state, status: 'closed', revision, amount: 0 } }
      }
      return { action: 'ignore', why: `the session is already ${state.status}` }
    }
    case 'completed': {
      if (!state || state.status === 'pending') {
        return { action: 'wait', why: 'completed before the request was handled' }
      }
      if (settled(state)) return { action: 'ignore', why: 'the session is already captured' }
      if (event.revision > state.revision) {
        // The hold of the completed revision is not made yet (a reschedule or a reopening
        // request still on its way).
        return {
          action: 'wait',
          why: `completed at revision ${event.revision}, held at ${state.revision}`,
        }
      }
      if (state.status !== 'open') {
        return { action: 'ignore', why: `the session is already ${state.status}` }
      }
      // The hold normally equals the price; if they differ, capture at most what is held
      // (the rest of the hold goes back) and never a fee above what is captured.
      const price = Math.min(event.price, state.amount)
      return {
        action: 'capture',
        studentId: state.studentId ?? event.studentId,
        tutorId: event.tutorId,
        revision: state.revision,
        held: state.amount,
        price,
        fee: Math.min(event.fee, price),
      }
    }
  }
}
