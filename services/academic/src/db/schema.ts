import type { BusTables } from '@tms/bus'
import type { Role } from '@tms/contracts'
import type { IdempotencyTables } from '@tms/idempotency'
import type { DocumentTables } from './document-tables.ts'
import type { SessionTables } from './sessions-tables.ts'

/** What the service knows of an account, kept from the auth service's events only. */
export interface UsersTable {
  user_id: string
  username: string
  name: string | null
  /** Follows auth.user.role-changed: a tutor no longer `tutor` is not bookable. */
  role: Role
  updated_at: Date
}

export interface TutorProfilesTable {
  id: string
  /** One profile per tutor. */
  user_id: string
  status: 'pending' | 'approved' | 'rejected'
  bio: string
  /** Minor units of `currency` per hour; the price of a session comes from it, never the client. */
  hourly_rate: number
  currency: string
  review_note: string | null
  reviewed_by: string | null
  reviewed_at: Date | null
  created_at: Date
  updated_at: Date
}

/** A profile's subjects, one row each (lowercase), so the subject filter uses an index. */
export interface TutorSubjectsTable {
  profile_id: string
  subject: string
}

export interface AcademicDatabase
  extends BusTables,
    IdempotencyTables,
    DocumentTables,
    SessionTables {
  users: UsersTable
  tutor_profiles: TutorProfilesTable
  tutor_subjects: TutorSubjectsTable
}
