// Every query of class sessions: the tables, the migration, and the queries the use-cases and
// the event handlers run. Rows come back as plain objects; nothing here decides a rule.
//
// Overlaps without an exclusion constraint: every transaction that could make two sessions
// overlap first locks a row per person it books (`schedule_locks`, the tutor's and the
// student's, in id order), then checks with a plain query under READ COMMITTED, then writes.
// Two such transactions for one person run one after the other, so the second sees what the
// first wrote; the fixed order means they never wait on each other in a cycle.
import { type Kysely, type Migration, sql, type Transaction } from '@tms/db'
import { MAX_SESSION_MINUTES } from '../domain/session-times.ts'
import type { PaymentStatus, SessionStatus } from '../domain/sessions.ts'
import type { AcademicDatabase } from './schema.ts'

export interface ClassSessionsTable {
  id: string
  /** Set only on the sessions a class generates (classes are a later feature). */
  class_id: string | null
  tutor_id: string
  student_id: string
  /** Who asked: the student, or an admin on the student's behalf. */
  requested_by: string
  subject: string
  note: string | null
  start_time: Date
  end_time: Date
  status: SessionStatus
  /** 1 when requested; each reschedule or reopening adds one (the wallet keys holds by it). */
  revision: number
  /** The tutor's rate when the session was requested; a reschedule prices the new length at it. */
  hourly_rate: number
  price: number
  fee: number
  currency: string
  payment_status: PaymentStatus
  /** What a late cancellation (or an admin's override) charged, and the platform's part. */
  amount_charged: number
  charge_fee: number
  /** Why it was cancelled or rejected: the caller's words, or expired / insufficient_funds / deleted. */
  cancel_reason: string | null
  created_at: Date
  updated_at: Date
  /** Deleted sessions stay for the saga and the audit; nobody sees them. */
  deleted_at: Date | null
}

/** Every change of a session's status or times: who made it, why, when. Append-only. */
export interface ClassSessionChangesTable {
  id: string
  session_id: string
  revision: number
  from_status: SessionStatus | null
  to_status: SessionStatus
  /** Null for the service itself (expiry, a declined hold). */
  actor_id: string | null
  actor_role: 'student' | 'tutor' | 'admin' | 'system'
  reason: string | null
  at: Date
}

/** One row per person whose calendar a transaction is changing; see the top of this file. */
export interface ScheduleLocksTable {
  user_id: string
}

export interface SessionTables {
  class_sessions: ClassSessionsTable
  class_session_changes: ClassSessionChangesTable
  schedule_locks: ScheduleLocksTable
}

const id = 'varchar(64)'
const time = sql`datetime(3)`

export const sessionsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('class_sessions')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('class_id', id)
      .addColumn('tutor_id', id, (c) => c.notNull())
      .addColumn('student_id', id, (c) => c.notNull())
      .addColumn('requested_by', id, (c) => c.notNull())
      .addColumn('subject', 'varchar(100)', (c) => c.notNull())
      .addColumn('note', 'varchar(1000)')
      .addColumn('start_time', time, (c) => c.notNull())
      .addColumn('end_time', time, (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('hourly_rate', 'bigint', (c) => c.notNull())
      .addColumn('price', 'bigint', (c) => c.notNull())
      .addColumn('fee', 'bigint', (c) => c.notNull())
      .addColumn('currency', 'char(3)', (c) => c.notNull())
      .addColumn('payment_status', 'varchar(16)', (c) => c.notNull())
      .addColumn('amount_charged', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('charge_fee', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('cancel_reason', 'varchar(200)')
      .addColumn('created_at', time, (c) => c.notNull())
      .addColumn('updated_at', time, (c) => c.notNull())
      .addColumn('deleted_at', time)
      .execute()
    // Overlap checks and "my sessions" lists: by person, then time.
    await db.schema
      .createIndex('class_sessions_tutor_start')
      .on('class_sessions')
      .columns(['tutor_id', 'start_time'])
      .execute()
    await db.schema
      .createIndex('class_sessions_student_start')
      .on('class_sessions')
      .columns(['student_id', 'start_time'])
      .execute()
    // The expiry job: requested sessions by start time.
    await db.schema
      .createIndex('class_sessions_status_start')
      .on('class_sessions')
      .columns(['status', 'start_time'])
      .execute()
    await db.schema
      .createIndex('class_sessions_class')
      .on('class_sessions')
      .column('class_id')
      .execute()

    await db.schema
      .createTable('class_session_changes')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('session_id', id, (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('from_status', 'varchar(16)')
      .addColumn('to_status', 'varchar(16)', (c) => c.notNull())
      .addColumn('actor_id', id)
      .addColumn('actor_role', 'varchar(16)', (c) => c.notNull())
      .addColumn('reason', 'varchar(500)')
      .addColumn('at', time, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('class_session_changes_session')
      .on('class_session_changes')
      .columns(['session_id', 'id'])
      .execute()

    await db.schema
      .createTable('schedule_locks')
      .addColumn('user_id', id, (c) => c.primaryKey())
      .execute()
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['schedule_locks', 'class_session_changes', 'class_sessions']) {
      await db.schema.dropTable(table).ifExists().execute()
    }
  },
}

type Db = Kysely<AcademicDatabase>
type Trx = Transaction<AcademicDatabase>
type Reader = Db | Trx

/**
 * Makes sure each person has a lock row, before the transaction that locks them: inserted in
 * a transaction of its own, since an insert that finds the row existing takes a shared lock,
 * and two transactions holding it could then never both upgrade it to lock the row.
 */
export async function ensureScheduleLocks(db: Db, userIds: readonly string[]): Promise<void> {
  const wanted = [...new Set(userIds)]
  const existing = await db
    .selectFrom('schedule_locks')
    .select('user_id')
    .where('user_id', 'in', wanted)
    .execute()
  const have = new Set(existing.map((r) => r.user_id))
  const missing = wanted.filter((u) => !have.has(u))
  if (missing.length === 0) return
  await sql`INSERT IGNORE INTO schedule_locks (user_id) VALUES ${sql.join(
    missing.map((u) => sql`(${u})`),
  )}`.execute(db)
}

/** Locks the people's calendars in id order (one fixed order: no deadlock between bookings). */
export async function lockSchedules(trx: Trx, userIds: readonly string[]): Promise<void> {
  const wanted = [...new Set(userIds)].sort()
  const rows = await trx
    .selectFrom('schedule_locks')
    .select('user_id')
    .where('user_id', 'in', wanted)
    .orderBy('user_id')
    .forUpdate()
    .execute()
  if (rows.length !== wanted.length) {
    throw new Error(`schedule lock rows missing for ${wanted.join(', ')}: ensure them first`)
  }
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
 * Plain read: run it under READ COMMITTED after lockSchedules. Only sessions starting less than
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
 * approved. A tutor demoted since (auth.user.role-changed) is not bookable, though the profile
 * stays approved.
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

/** The role a user has here (from auth's events), if the user is known. */
export async function findUserRole(db: Reader, userId: string) {
  const row = await db
    .selectFrom('users')
    .select('role')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return row?.role
}
