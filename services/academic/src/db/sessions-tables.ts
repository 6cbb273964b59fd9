// The class-session tables and their migration (academic_0003_sessions). The queries are in
// db/sessions.ts; schema.ts adds these tables to the service's database type.
import { type Kysely, type Migration, sql } from '@tms/db'
import type { PaymentStatus, SessionStatus } from '../domain/sessions.ts'

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

export interface SessionTables {
  class_sessions: ClassSessionsTable
  class_session_changes: ClassSessionChangesTable
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
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['class_session_changes', 'class_sessions']) {
      await db.schema.dropTable(table).ifExists().execute()
    }
  },
}
