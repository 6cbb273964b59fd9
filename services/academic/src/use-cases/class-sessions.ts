import { type Kysely, newId, type Transaction, transaction } from '@tms/db'
import type { AcademicDatabase } from '../db/schema.ts'
import {
  findBookableTutor,
  findSession,
  insertSession,
  listSessions,
  lockPeople,
  lockSession,
  recordChange,
  sessionChanges,
  updateSession,
} from '../db/sessions.ts'
import type { ClassSessionsTable } from '../db/sessions-tables.ts'
import { findUser } from '../db/users.ts'
import { quote } from '../domain/pricing.ts'
import {
  AccountNotKnownError,
  InvalidSessionInputError,
  SessionConflictError,
  SessionForbiddenError,
  SessionNotFoundError,
} from '../domain/session-errors.ts'
import { checkSessionTimes, parseTime } from '../domain/session-times.ts'
import {
  type Actor,
  type Charge,
  cancellationCharge,
  type Decision,
  decide,
  decideOverride,
  type Move,
  overrideCharge,
  type SessionAction,
  type SessionStatus,
  systemCancelReasons,
  transitions,
} from '../domain/sessions.ts'
import type {
  ListInput,
  PatchInput,
  RequestInput,
  SessionPageView,
  SessionView,
  SessionWithHistoryView,
} from '../routes/schemas/class-sessions.ts'
import type { AcademicDeps, Caller } from './deps.ts'
import {
  announce,
  applyMove,
  bookingTransaction,
  checkBooked,
  checkStudentFree,
  factsOf,
  lockBooked,
  sessionView,
} from './session-moves.ts'

type Db = Kysely<AcademicDatabase>
type Trx = Transaction<AcademicDatabase>

/** The caller as the sessions see them: `admin` when the token and the users table here agree. */
interface Party {
  id: string
  role: Caller['role']
  admin: boolean
}

/**
 * An admin is one whose token says so and whose copy of the account here says so too (it
 * follows auth.user.role-changed): a demoted admin's token still claims it for 15 minutes.
 */
async function partyOf(db: Db | Trx, caller: Caller): Promise<Party> {
  const admin = caller.role === 'admin' && (await findUser(db, caller.id))?.role === 'admin'
  return { id: caller.id, role: caller.role, admin }
}

function actorIn(caller: Party, row: Pick<ClassSessionsTable, 'tutor_id' | 'student_id'>) {
  if (caller.admin) return 'admin' as const
  if (caller.id === row.tutor_id) return 'tutor' as const
  if (caller.id === row.student_id) return 'student' as const
  return undefined
}

/** The role the caller acts in before any session is looked at. */
function roleActor(caller: Party): Actor | undefined {
  if (caller.admin) return 'admin'
  return caller.role === 'student' || caller.role === 'tutor' ? caller.role : undefined
}

function refuse(decision: Decision): asserts decision is Move {
  if (decision.ok) return
  if (decision.refusal === 'forbidden') throw new SessionForbiddenError(decision.detail)
  throw new SessionConflictError(decision.kind ?? 'illegal-transition', decision.detail)
}

/** A session the caller may see (their own, or any for an admin), else not found. */
async function visibleSession(db: Db | Trx, caller: Party, sessionId: string) {
  const row = await findSession(db, sessionId)
  if (!row || !actorIn(caller, row)) throw new SessionNotFoundError()
  return row
}

// ---------------------------------------------------------------- request

/**
 * A new session, `requested` with its payment `pending`; the wallet places the hold on the
 * requested event. Runs in `trx` (the Idempotency-Key's effect transaction, READ COMMITTED).
 */
export async function requestSession(
  trx: Trx,
  deps: AcademicDeps,
  user: Caller,
  input: RequestInput,
): Promise<SessionView> {
  // Every read in the key's transaction: a second connection per request could exhaust the pool.
  const caller = await partyOf(trx, user)
  const studentId = requestingStudent(caller, input)
  const now = deps.clock.now()
  const checked = checkSessionTimes(input.start_time, input.end_time, now)
  if (!checked.ok) throw new InvalidSessionInputError(checked.errors)
  const { start, end, minutes } = checked.times
  const tutor = await findBookableTutor(trx, input.tutor_id)
  if (!tutor) {
    throw new InvalidSessionInputError([
      { field: 'tutor_id', message: 'is not a tutor with an approved profile' },
    ])
  }
  if (tutor.currency !== deps.settings.currency) {
    throw new InvalidSessionInputError([
      { field: 'tutor_id', message: `the tutor's rate is not in ${deps.settings.currency}` },
    ])
  }
  const { price, fee } = quote(tutor.hourly_rate, minutes, deps.settings.platformFeeBps)

  const studentRole = (await lockPeople(trx, [studentId])).get(studentId)
  if (!studentRole) {
    if (caller.admin) {
      throw new InvalidSessionInputError([{ field: 'student_id', message: 'is not a student' }])
    }
    throw new AccountNotKnownError()
  }
  if (studentRole !== 'student') {
    if (caller.admin) {
      throw new InvalidSessionInputError([{ field: 'student_id', message: 'is not a student' }])
    }
    throw new SessionForbiddenError('this account is no student account (any more)')
  }
  await checkStudentFree(trx, studentId, start, end)
  const row: ClassSessionsTable = {
    id: newId(),
    class_id: null,
    tutor_id: tutor.user_id,
    student_id: studentId,
    requested_by: caller.id,
    subject: input.subject.trim(),
    note: input.note ?? null,
    start_time: start,
    end_time: end,
    status: 'requested',
    revision: 1,
    hourly_rate: tutor.hourly_rate,
    price,
    fee,
    currency: deps.settings.currency,
    payment_status: 'pending',
    amount_charged: 0,
    charge_fee: 0,
    cancel_reason: null,
    created_at: now,
    updated_at: now,
    deleted_at: null,
  }
  await insertSession(trx, row)
  await recordChange(trx, {
    id: newId(),
    session_id: row.id,
    revision: 1,
    from_status: null,
    to_status: 'requested',
    actor_id: caller.id,
    actor_role: caller.admin ? 'admin' : 'student',
    reason: null,
    at: now,
  })
  await announce(deps, trx, row, ['academic.session.requested'], { actorId: caller.id })
  return sessionView(row)
}

/** The student of a new request: the caller, or for an admin the `student_id` given. */
function requestingStudent(caller: Party, input: RequestInput): string {
  if (caller.admin) {
    if (!input.student_id) {
      throw new InvalidSessionInputError([
        { field: 'student_id', message: 'is required when an admin requests a session' },
      ])
    }
    return input.student_id
  }
  if (caller.role !== 'student') {
    throw new SessionForbiddenError('only students (and admins for them) request sessions')
  }
  if (input.student_id !== undefined && input.student_id !== caller.id) {
    throw new InvalidSessionInputError([
      { field: 'student_id', message: 'only an admin may request a session for another student' },
    ])
  }
  return caller.id
}

// ---------------------------------------------------------------- read

/** The position after a session in (start_time, id) order, opaque to clients. */
function cursorOf(row: ClassSessionsTable): string {
  return Buffer.from(`${row.start_time.toISOString()}|${row.id}`).toString('base64url')
}

function readCursor(cursor: string): { startTime: Date; id: string } {
  const [time, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  const parsed = time ? parseTime(time) : undefined
  if (!parsed?.ok || !id || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
    throw new InvalidSessionInputError([
      { field: 'cursor', message: 'is not a cursor of this list' },
    ])
  }
  return { startTime: parsed.time, id }
}

function queryTime(field: 'from' | 'to', text: string | undefined): Date | undefined {
  if (text === undefined) return undefined
  const parsed = parseTime(text)
  if (!parsed.ok) throw new InvalidSessionInputError([{ field, message: parsed.why }])
  return parsed.time
}

/** The caller's sessions (an admin's: everyone's) by start time, filtered, a page at a time. */
export async function listClassSessions(
  deps: AcademicDeps,
  user: Caller,
  input: ListInput,
): Promise<SessionPageView> {
  const caller = await partyOf(deps.db, user)
  const from = queryTime('from', input.from)
  const to = queryTime('to', input.to)
  const rows = await listSessions(deps.db, {
    classId: input.class_id,
    status: input.status,
    tutorId: input.tutor_id,
    studentId: input.student_id,
    from,
    to,
    participant: caller.admin ? undefined : caller.id,
    after: input.cursor ? readCursor(input.cursor) : undefined,
    limit: input.limit,
  })
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    items: page.map(sessionView),
    next_cursor: rows.length > input.limit && last ? cursorOf(last) : null,
  }
}

export async function getClassSession(
  deps: AcademicDeps,
  user: Caller,
  sessionId: string,
): Promise<SessionWithHistoryView> {
  const caller = await partyOf(deps.db, user)
  const row = await visibleSession(deps.db, caller, sessionId)
  const history = (await sessionChanges(deps.db, sessionId)).map((c) => ({
    at: c.at.toISOString(),
    revision: c.revision,
    from_status: c.from_status,
    to_status: c.to_status,
    actor_role: c.actor_role,
    ...(caller.admin ? { actor_id: c.actor_id } : {}),
    reason: c.reason,
  }))
  return { ...sessionView(row), history }
}

// ---------------------------------------------------------------- transitions

export type ActionName = Extract<
  SessionAction,
  'accept' | 'reject' | 'start' | 'complete' | 'cancel'
>

/**
 * The tutor's (or an admin's) accept, reject, start and complete, and anyone's cancel: the
 * session's row is locked, the state machine decides, an accept checks the calendars under
 * the tutor's and the student's schedule locks, a student's late cancel is charged.
 */
export async function actOnSession(
  deps: AcademicDeps,
  user: Caller,
  sessionId: string,
  action: ActionName,
  input: { reason?: string } = {},
): Promise<SessionView> {
  const caller = await partyOf(deps.db, user)
  const role = roleActor(caller)
  if (!role || !transitions[action][role]) {
    throw new SessionForbiddenError(`a ${caller.role} cannot ${action} a session`)
  }
  const seen = await visibleSession(deps.db, caller, sessionId)
  const people = [seen.tutor_id, seen.student_id]
  return transaction(
    deps.db,
    async (trx) => {
      if (action === 'accept') await lockBooked(trx, people)
      const row = await lockSession(trx, sessionId)
      if (!row || row.deleted_at) throw new SessionNotFoundError()
      const actor = actorIn(caller, row) as Actor
      const now = deps.clock.now()
      const move = decide(action, actor, factsOf(row), now)
      refuse(move)
      if (action === 'accept') await checkBooked(trx, row, row.start_time, row.end_time)
      const charge =
        action === 'cancel'
          ? cancellationCharge(
              { ...factsOf(row), price: Number(row.price) },
              actor,
              now,
              noticePolicy(deps.settings),
            )
          : undefined
      const after = await applyMove(deps, trx, {
        row,
        move,
        actor,
        actorId: caller.id,
        reason: input.reason,
        charge,
      })
      return sessionView(after)
    },
    bookingTransaction,
  )
}

function noticePolicy(settings: AcademicDeps['settings']) {
  return {
    noticeHours: settings.cancellationNoticeHours,
    lateCancelBps: settings.lateCancelFeeBps,
    platformFeeBps: settings.platformFeeBps,
  }
}

/**
 * PATCH of a session: a reschedule (new times: a new revision at a new price, back to
 * requested, the wallet adjusts the hold) or a note, by its student, its tutor or an admin;
 * or an admin's override of its status.
 */
export async function patchSession(
  deps: AcademicDeps,
  user: Caller,
  sessionId: string,
  input: PatchInput,
): Promise<SessionView> {
  const caller = await partyOf(deps.db, user)
  if (input.status !== undefined) return overrideSession(deps, caller, sessionId, input)
  const misplaced = (['reason', 'charge'] as const).filter((f) => input[f] !== undefined)
  if (misplaced.length > 0) {
    throw new InvalidSessionInputError(
      misplaced.map((field) => ({ field, message: 'goes only with an admin’s `status`' })),
    )
  }
  const seen = await visibleSession(deps.db, caller, sessionId)
  const rescheduling = input.start_time !== undefined || input.end_time !== undefined
  const now = deps.clock.now()
  let times: { start: Date; end: Date; minutes: number } | undefined
  if (rescheduling) {
    const checked = checkSessionTimes(
      input.start_time ?? seen.start_time.toISOString(),
      input.end_time ?? seen.end_time.toISOString(),
      now,
    )
    if (!checked.ok) throw new InvalidSessionInputError(checked.errors)
    times = checked.times
    if (
      times.start.getTime() === seen.start_time.getTime() &&
      times.end.getTime() === seen.end_time.getTime()
    ) {
      times = undefined // the same times: only the note (if any) changes
    }
  }
  // A reschedule books nobody (it goes back to requested): only the student's calendar counts.
  const people = [seen.student_id]
  return transaction(
    deps.db,
    async (trx) => {
      if (times) await lockBooked(trx, people)
      const row = await lockSession(trx, sessionId)
      if (!row || row.deleted_at) throw new SessionNotFoundError()
      const actor = actorIn(caller, row) as Actor
      // A note is edited while the session could be rescheduled, by the same people.
      const move = decide('reschedule', actor, factsOf(row), deps.clock.now())
      refuse(move)
      const note = input.note === undefined ? {} : { note: input.note }
      if (!times) {
        await updateSession(trx, row.id, { ...note, updated_at: deps.clock.now() })
        return sessionView({ ...row, ...note })
      }
      await checkStudentFree(trx, row.student_id, times.start, times.end, row.id)
      const { price, fee } = quote(
        Number(row.hourly_rate),
        times.minutes,
        deps.settings.platformFeeBps,
      )
      const after = await applyMove(deps, trx, {
        row,
        move,
        actor,
        actorId: caller.id,
        changes: { ...note, start_time: times.start, end_time: times.end, price, fee },
      })
      return sessionView(after)
    },
    bookingTransaction,
  )
}

/**
 * An admin sets the status: any but the current one, never out of completed; the acting admin
 * and the reason are recorded, and money follows (completed → capture; rejected, cancelled →
 * release, or capture `charge` of it; out of rejected or cancelled → a new revision asks for a
 * new hold). Into accepted or processing the calendars are checked as for an accept.
 */
async function overrideSession(
  deps: AcademicDeps,
  caller: Party,
  sessionId: string,
  input: PatchInput,
): Promise<SessionView> {
  const to = input.status as SessionStatus
  if (!caller.admin) {
    throw new InvalidSessionInputError([
      { field: 'status', message: 'only an admin may set it (use the transition routes)' },
    ])
  }
  const errors = [
    ...(['start_time', 'end_time', 'note'] as const)
      .filter((f) => input[f] !== undefined)
      .map((field) => ({ field, message: 'cannot change in the same request as `status`' })),
    ...(input.reason?.trim() ? [] : [{ field: 'reason', message: 'is required with `status`' }]),
    ...(input.charge !== undefined && to !== 'cancelled'
      ? [{ field: 'charge', message: 'goes only with `status: cancelled`' }]
      : []),
  ]
  if (errors.length > 0) throw new InvalidSessionInputError(errors)
  const seen = await visibleSession(deps.db, caller, sessionId)
  const people = [seen.tutor_id, seen.student_id]
  return transaction(
    deps.db,
    async (trx) => {
      await lockBooked(trx, people)
      const row = await lockSession(trx, sessionId)
      if (!row || row.deleted_at) throw new SessionNotFoundError()
      const move = decideOverride(factsOf(row), to)
      refuse(move)
      if (to === 'accepted' || to === 'processing') {
        await checkBooked(trx, row, row.start_time, row.end_time)
      }
      if (move.newRevision) {
        await checkStudentFree(trx, row.student_id, row.start_time, row.end_time, row.id)
      }
      let charge: Charge | undefined
      if (input.charge !== undefined) {
        const decided = overrideCharge(
          { ...factsOf(row), price: Number(row.price) },
          input.charge,
          deps.settings.platformFeeBps,
        )
        if ('ok' in decided) {
          refuse(decided)
        } else {
          charge = decided
        }
      }
      const after = await applyMove(deps, trx, {
        row,
        move,
        actor: 'admin',
        actorId: caller.id,
        reason: input.reason?.trim(),
        charge,
        // A reopened session is open again: no cancel reason, nothing charged.
        changes: move.newRevision ? { cancel_reason: null } : {},
      })
      return sessionView(after)
    },
    bookingTransaction,
  )
}

/**
 * DELETE: the student takes back a request, an admin removes any session. An open one is
 * cancelled first (reason `deleted`; its hold is released); then nobody sees it, but its row
 * stays for the saga's late events and the record of changes.
 */
export async function deleteSession(
  deps: AcademicDeps,
  user: Caller,
  sessionId: string,
): Promise<void> {
  const caller = await partyOf(deps.db, user)
  const role = roleActor(caller)
  if (!role || !transitions.delete[role]) {
    throw new SessionForbiddenError(`a ${caller.role} cannot delete a session`)
  }
  await visibleSession(deps.db, caller, sessionId)
  await transaction(
    deps.db,
    async (trx) => {
      const row = await lockSession(trx, sessionId)
      if (!row || row.deleted_at) throw new SessionNotFoundError()
      const actor = actorIn(caller, row) as Actor
      const move = decide('delete', actor, factsOf(row), deps.clock.now())
      refuse(move)
      const deleted = { deleted_at: deps.clock.now() }
      if (move.from === move.to) {
        await updateSession(trx, row.id, { ...deleted, updated_at: deps.clock.now() })
        return
      }
      await applyMove(deps, trx, {
        row,
        move,
        actor,
        actorId: caller.id,
        reason: systemCancelReasons.delete,
        changes: deleted,
      })
    },
    bookingTransaction,
  )
}
