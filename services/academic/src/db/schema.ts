// TEMPORARY stand-in for the shell's schema (replaced by main's at the merge).
import type { BusTables } from '@tms/bus'
import type { DocumentTables } from './documents.ts'

export interface UserTable {
  user_id: string
  username: string
  name: string | null
  role: 'student' | 'tutor' | 'admin'
  updated_at: Date
}

export interface TutorProfileTable {
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

export interface TutorSubjectTable {
  profile_id: string
  subject: string
}

export interface AcademicDatabase extends BusTables, DocumentTables {
  users: UserTable
  tutor_profiles: TutorProfileTable
  tutor_subjects: TutorSubjectTable
}
