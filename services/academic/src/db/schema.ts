// TEMPORARY until the lead's shell lands: the shell's tables as academic.md describes them.
import type { BusTables } from '@tms/bus'
import type { Role } from '@tms/contracts'
import type { IdempotencyTables } from '@tms/idempotency'
import type { SessionTables } from './sessions.ts'

export interface UsersTable {
  user_id: string
  username: string
  name: string | null
  role: Role
  updated_at: Date
}

export interface TutorProfilesTable {
  id: string
  user_id: string
  status: 'pending' | 'approved' | 'rejected'
  bio: string
  hourly_rate: number
  currency: string
  review_note: string | null
  reviewed_by: string | null
  reviewed_at: Date | null
  created_at: Date
  updated_at: Date
}

export interface AcademicDatabase extends BusTables, IdempotencyTables, SessionTables {
  users: UsersTable
  tutor_profiles: TutorProfilesTable
}
