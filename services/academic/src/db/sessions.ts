// Every query of class sessions, for the use-cases and the event handlers (the tables are in
// sessions-tables.ts). Rows come back as plain objects; nothing here decides a rule.
//
// Overlaps without an exclusion constraint: every transaction that could make two sessions
// overlap first locks a row per person it books (their row in `users`, the tutor's and the
// student's, in id order), then checks with a plain query under READ COMMITTED, then writes.
// Two such transactions for one person run one after the other, so the second sees what the
// first wrote; the fixed order means they never wait on each other in a cycle.
import type { Role } from '@tms/contracts'
import type { Kysely, Transaction } from '@tms/db'
import { MAX_SESSION_MINUTES } from '../domain/session-times.ts'
import type { SessionStatus } from '../domain/sessions.ts'
import type { AcademicDatabase } from './schema.ts'
import type { ClassSessionChangesTable, ClassSessionsTable } from './sessions-tables.ts'

type Db = Kysely<AcademicDatabase>
type Trx = Transaction<AcademicDatabase>
type Reader = Db | Trx

/**
 * Locks the people's rows in `users` (their copy of the account here, which every booked
 * person has) in user-id order: one fixed order, so bookings never wait on each other in a
 * cycle. Returns the role of each one found; a person not known here yet has no row to lock.
 */
export async function lockPeople(trx: Trx, userIds: readonly string[]): Promise<Map<string, Role>> {
  const wanted = [...new Set(userIds)].sort()
  const rows = await trx
    .selectFrom('users')
    .select(['user_id', 'role'])
    .where('user_id', 'in', wanted)
    .orderBy('user_id')
    .forUpdate()
    .execute()
  return new Map(rows.map((r) => [r.user_id, r.role]))
}

export interface OverlapQuery {
  /** Whose calendar: the tutor's or the student's sessions. */
  person: 'tutor_id' | 'student_id'
  userId: string
  statuses: readonly SessionStatus[]
  start: Date
  end: Date
  /** The session being moved, which never overlaps itself. */
  excludeId?: string
}

/**
 * The first of the person's sessions in those statuses that shares a moment with [start, end).
 * Plain read: run it under READ COMMITTED after lockPeople. Only sessions starting less than
 * the longest session before `start` can reach into it, which bounds the index range.
 */
export async function findOverlap(
  trx: Trx,
  q: OverlapQuery,
): Promise<Pick<ClassSessionsTable, 'id' | 'start_time' | 'end_time' | 'status'> | undefined> {
  const earliest = new Date(q.start.getTime() - MAX_SESSION_MINUTES * 60_000)
  let query = trx
    .selectFrom('class_sessions')
    .select(['id', 'start_time', 'end_time', 'status'])
    .where(q.person, '=', q.userId)
    .where('start_time', '>', earliest)
    .where('start_time', '<', q.end)
    .where('end_time', '>', q.start)
    .where('status', 'in', [...q.statuses])
  if (q.excludeId) query = query.where('id', '<>', q.excludeId)
  return query.limit(1).executeTakeFirst()
}

/** A session nobody deleted. */
export function findSession(db: Reader, sessionId: string) {
  return db
    .selectFrom('class_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
}

/** The session's row, locked for the rest of the transaction (deleted ones too: events of them). */
export function lockSession(trx: Trx, sessionId: string) {
  return trx
    .selectFrom('class_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .forUpdate()
    .executeTakeFirst()
}

export async function insertSession(trx: Trx, row: ClassSessionsTable): Promise<void> {
  await trx.insertInto('class_sessions').values(row).execute()
}

export type SessionChanges = Partial<Omit<ClassSessionsTable, 'id' | 'created_at'>> & {
  updated_at: Date
}

export async function updateSession(
  trx: Trx,
  sessionId: string,
  changes: SessionChanges,
): Promise<void> {
  await trx.updateTable('class_sessions').set(changes).where('id', '=', sessionId).execute()
}

export async function recordChange(trx: Trx, change: ClassSessionChangesTable): Promise<void> {
  await trx.insertInto('class_session_changes').values(change).execute()
}

export function sessionChanges(db: Reader, sessionId: string) {
  return db
    .selectFrom('class_session_changes')
    .selectAll()
    .where('session_id', '=', sessionId)
    .orderBy('id')
    .execute()
}

export interface SessionFilters {
  classId?: string
  status?: SessionStatus
  tutorId?: string
  studentId?: string
  /** Sessions that end after `from` and start before `to`: those that touch [from, to). */
  from?: Date
  to?: Date
  /** Only sessions this user is the tutor or the student of (every caller but an admin). */
  participant?: string
  /** After this position in (start_time, id) order. */
  after?: { startTime: Date; id: string }
  limit: number
}

/** A page of sessions in (start_time, id) order; one more than asked, to know if more follow. */
export function listSessions(db: Reader, f: SessionFilters) {
  let query = db.selectFrom('class_sessions').selectAll().where('deleted_at', 'is', null)
  if (f.participant) {
    const me = f.participant
    query = query.where((eb) => eb.or([eb('tutor_id', '=', me), eb('student_id', '=', me)]))
  }
  if (f.classId) query = query.where('class_id', '=', f.classId)
  if (f.status) query = query.where('status', '=', f.status)
  if (f.tutorId) query = query.where('tutor_id', '=', f.tutorId)
  if (f.studentId) query = query.where('student_id', '=', f.studentId)
  if (f.from) query = query.where('end_time', '>', f.from)
  if (f.to) query = query.where('start_time', '<', f.to)
  if (f.after) {
    const { startTime, id } = f.after
    query = query.where((eb) =>
      eb.or([
        eb('start_time', '>', startTime),
        eb.and([eb('start_time', '=', startTime), eb('id', '>', id)]),
      ]),
    )
  }
  return query
    .orderBy('start_time')
    .orderBy('id')
    .limit(f.limit + 1)
    .execute()
}

/**
 * Requests whose start time has come, locked; rows another replica holds are skipped, so
 * replicas running the expiry at once share the work and never cancel one session twice.
 */
export function lockDueRequests(trx: Trx, now: Date, limit: number) {
  return trx
    .selectFrom('class_sessions')
    .selectAll()
    .where('status', '=', 'requested')
    .where('start_time', '<=', now)
    .orderBy('start_time')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute()
}

export interface BookableTutor {
  user_id: string
  hourly_rate: number
  currency: string
}

/**
 * The tutor as booking sees them: a user whose role here is still `tutor` and whose profile is
 * approved. A tutor demoted since (auth.user.role-changed, whose handler also rejects the
 * profile) is not bookable by either rule.
 */
export async function findBookableTutor(
  db: Reader,
  tutorId: string,
): Promise<BookableTutor | undefined> {
  const row = await db
    .selectFrom('tutor_profiles')
    .innerJoin('users', 'users.user_id', 'tutor_profiles.user_id')
    .select(['tutor_profiles.user_id', 'tutor_profiles.hourly_rate', 'tutor_profiles.currency'])
    .where('tutor_profiles.user_id', '=', tutorId)
    .where('tutor_profiles.status', '=', 'approved')
    .where('users.role', '=', 'tutor')
    .executeTakeFirst()
  return row ? { ...row, hourly_rate: Number(row.hourly_rate) } : undefined
}
