// How a class session moves, whoever moves it: the change written with its record of who and
// why, a closing payment settled, and the events of the SPEC's catalogue in the outbox in the
// same transaction (the wallet moves the money on those events: the saga's other half,
// services/user-wallet/src/events/booking.ts); the calendar checks made under the people's
// locks; and the moves the service makes itself (expiry, a declined hold). The use-cases of
// class-sessions.ts and the payment handlers (events/payments.ts) run their moves through here.
import type { EventData } from '@tms/contracts'
import { newId, type Transaction, transaction } from '@tms/db'
import type { AcademicDatabase } from '../db/schema.ts'
import {
  findOverlap,
  lockDueRequests,
  lockPeople,
  recordChange,
  type SessionChanges,
  updateSession,
} from '../db/sessions.ts'
import type { ClassSessionsTable } from '../db/sessions-tables.ts'
import { paymentOnClose } from '../domain/payments.ts'
import { SessionConflictError } from '../domain/session-errors.ts'
import {
  type Actor,
  bookedStatuses,
  type Charge,
  decide,
  type Move,
  openStatuses,
  type SessionEvent,
  type SessionFacts,
  systemCancelReasons,
} from '../domain/sessions.ts'
import type { SessionView } from '../routes/schemas/class-sessions.ts'
import type { AcademicDeps } from './deps.ts'

type Trx = Transaction<AcademicDatabase>

/** What a move needs: the outbox and the clock (the payment handlers have no more). */
export type MoveDeps = Pick<AcademicDeps, 'bus' | 'clock'>

/** Booking writes lock, then read what others committed meanwhile (see db/sessions.ts). */
export const bookingTransaction = { isolationLevel: 'read committed' } as const

export function sessionView(row: ClassSessionsTable): SessionView {
  return {
    id: row.id,
    class_id: row.class_id,
    tutor_id: row.tutor_id,
    student_id: row.student_id,
    subject: row.subject,
    note: row.note,
    start_time: row.start_time.toISOString(),
    end_time: row.end_time.toISOString(),
    status: row.status,
    revision: row.revision,
    price: Number(row.price),
    fee: Number(row.fee),
    currency: row.currency,
    payment_status: row.payment_status,
    amount_charged: Number(row.amount_charged),
    cancel_reason: row.cancel_reason,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

export function factsOf(row: ClassSessionsTable): SessionFacts {
  return {
    status: row.status,
    paymentStatus: row.payment_status,
    amountCharged: Number(row.amount_charged),
    startTime: row.start_time,
  }
}

/** The caller's part in the session, or undefined when it is none of theirs. */
// ---------------------------------------------------------------- announcing

interface Announcement {
  actorId: string | null
  reason?: string | null
  charge?: Charge
}

/** The events of a move, in order, written to the outbox in the move's transaction. */
export async function announce(
  deps: MoveDeps,
  trx: Trx,
  row: ClassSessionsTable,
  events: readonly SessionEvent[],
  a: Announcement,
): Promise<void> {
  const who = {
    session_id: row.id,
    revision: row.revision,
    student_id: row.student_id,
    tutor_id: row.tutor_id,
  }
  const decision = {
    ...who,
    actor_id: a.actorId,
    ...(a.reason ? { reason: a.reason.slice(0, 200) } : {}),
  }
  const times = { start_time: row.start_time.toISOString(), end_time: row.end_time.toISOString() }
  const money = { price: Number(row.price), fee: Number(row.fee) }
  for (const type of events) {
    switch (type) {
      case 'academic.session.requested':
        await deps.bus.enqueue(trx, type, {
          ...who,
          ...money,
          currency: row.currency,
          ...times,
        } satisfies EventData<typeof type>)
        break
      case 'academic.session.rescheduled':
        await deps.bus.enqueue(trx, type, {
          session_id: row.id,
          revision: row.revision,
          ...money,
          ...times,
        })
        break
      case 'academic.session.accepted':
      case 'academic.session.rejected':
        await deps.bus.enqueue(trx, type, decision)
        break
      case 'academic.session.cancelled':
        await deps.bus.enqueue(trx, type, {
          ...decision,
          charge: a.charge?.charge ?? 0,
          fee: a.charge?.fee ?? 0,
        })
        break
      case 'academic.session.completed':
        await deps.bus.enqueue(trx, type, {
          ...who,
          ...money,
          currency: row.currency,
          actor_id: a.actorId,
        })
        break
    }
  }
}

export interface Applied {
  row: ClassSessionsTable
  move: Move
  actor: Actor
  actorId: string | null
  reason?: string | null
  charge?: Charge
  /** Further columns that change with the move (times, price, note, deleted_at). */
  changes?: Partial<SessionChanges>
}

/**
 * Writes a decided move: the new status (a closing one also closes the payment that was never
 * authorized), a new revision when it starts one, the change record, and its events.
 */
export async function applyMove(deps: MoveDeps, trx: Trx, m: Applied): Promise<ClassSessionsTable> {
  const now = deps.clock.now()
  const { move } = m
  const closing = move.to === 'rejected' || move.to === 'cancelled'
  const revision = move.newRevision ? m.row.revision + 1 : m.row.revision
  const changes: SessionChanges = { status: move.to, revision, updated_at: now }
  if (move.newRevision) changes.payment_status = 'pending'
  else if (closing) changes.payment_status = paymentOnClose(m.row.payment_status)
  if (closing) changes.cancel_reason = m.reason ?? null
  if (m.charge && m.charge.charge > 0) {
    changes.amount_charged = m.charge.charge
    changes.charge_fee = m.charge.fee
  }
  Object.assign(changes, m.changes)
  await updateSession(trx, m.row.id, changes)
  await recordChange(trx, {
    id: newId(),
    session_id: m.row.id,
    revision,
    from_status: move.from,
    to_status: move.to,
    actor_id: m.actorId,
    actor_role: m.actor,
    reason: m.reason ?? null,
    at: now,
  })
  const after = { ...m.row, ...changes } as ClassSessionsTable
  await announce(deps, trx, after, move.events, {
    actorId: m.actorId,
    reason: m.reason,
    charge: m.charge,
  })
  return after
}

// ---------------------------------------------------------------- overlaps

/** Locks the people of an existing session, who are all known here (it was made with them). */
export async function lockBooked(trx: Trx, people: readonly string[]): Promise<void> {
  const locked = await lockPeople(trx, people)
  if (locked.size !== new Set(people).size) {
    throw new Error(`the users ${people.join(', ')} of a session are not all known here`)
  }
}

/** 409 if the session at these times would overlap a booked one of its tutor or student. */
export async function checkBooked(trx: Trx, row: ClassSessionsTable, start: Date, end: Date) {
  for (const person of ['tutor_id', 'student_id'] as const) {
    const other = await findOverlap(trx, {
      person,
      userId: row[person],
      statuses: bookedStatuses,
      start,
      end,
      excludeId: row.id,
    })
    if (other) {
      const whose = person === 'tutor_id' ? 'the tutor' : 'the student'
      throw new SessionConflictError(
        'overlapping-booking',
        `${whose} has another ${other.status} session from ${other.start_time.toISOString()} to ${other.end_time.toISOString()}`,
      )
    }
  }
}

/**
 * 409 if the student already has an open session (requested, accepted or processing) at these
 * times: a student is in one place at a time, and each request holds their money, so two
 * racing requests of one student for one slot cannot both be made.
 */
export async function checkStudentFree(
  trx: Trx,
  studentId: string,
  start: Date,
  end: Date,
  excludeId?: string,
) {
  const other = await findOverlap(trx, {
    person: 'student_id',
    userId: studentId,
    statuses: openStatuses,
    start,
    end,
    excludeId,
  })
  if (other) {
    throw new SessionConflictError(
      'overlapping-booking',
      `the student already has a ${other.status} session from ${other.start_time.toISOString()} to ${other.end_time.toISOString()}`,
    )
  }
}

// ---------------------------------------------------------------- the service's own moves

/**
 * A session the service itself cancels, in the caller's transaction with its row locked:
 * `expire` (unanswered at its start) or `decline` (the wallet could not hold the price).
 */
export async function cancelBySystem(
  deps: MoveDeps,
  trx: Trx,
  row: ClassSessionsTable,
  action: 'expire' | 'decline',
  changes: Partial<SessionChanges> = {},
): Promise<ClassSessionsTable | undefined> {
  const move = decide(action, 'system', factsOf(row), deps.clock.now())
  if (!move.ok) return undefined
  return applyMove(deps, trx, {
    row,
    move,
    actor: 'system',
    actorId: null,
    reason: systemCancelReasons[action],
    changes,
  })
}

/** The expiry as a job for the kit's runner: every minute, replica-safe, catching up. */
export function sessionExpiryJob(deps: MoveDeps & Pick<AcademicDeps, 'db'>) {
  return { name: 'session-expiry', everyMs: 60_000, run: () => expireDueRequests(deps) }
}

/** How many due requests one expiry transaction takes. */
const EXPIRY_BATCH = 100

/**
 * Cancels every request whose start time has come (`expired`; the cancelled event releases
 * its hold), in batches. Safe in several replicas at once (each batch skips rows another holds
 * locked) and catching up after downtime (it takes every past-due request, however old).
 * Returns how many it cancelled.
 */
export async function expireDueRequests(
  deps: MoveDeps & Pick<AcademicDeps, 'db'>,
): Promise<number> {
  let total = 0
  for (;;) {
    const done = await transaction(
      deps.db,
      async (trx) => {
        const due = await lockDueRequests(trx, deps.clock.now(), EXPIRY_BATCH)
        let cancelled = 0
        for (const row of due) {
          if (await cancelBySystem(deps, trx, row, 'expire')) cancelled++
        }
        return { taken: due.length, cancelled }
      },
      bookingTransaction,
    )
    total += done.cancelled
    if (done.taken < EXPIRY_BATCH || done.cancelled === 0) return total
  }
}
