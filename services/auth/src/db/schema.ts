import type { BusTables } from '@tms/bus'
import type { Role } from '@tms/contracts'
import type { Generated } from 'kysely'

export interface UsersTable {
  id: string
  /** Lowercase, `^[a-z0-9_.-]{3,32}$`. */
  username: string
  /** Lowercase. */
  email: string
  password_hash: string
  role: Role
  name: string | null
  phone: string | null
  created_at: Date
  updated_at: Date
}

export interface RefreshTokensTable {
  id: string
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  token_hash: string
  user_id: string
  /** Every token rotated from one login shares it; reuse of a spent one revokes them all. */
  family_id: string
  created_at: Date
  expires_at: Date
  spent_at: Date | null
  revoked_at: Date | null
}

/** At most one live code per account: a new request replaces the old one. */
export interface PasswordResetOtpsTable {
  user_id: string
  code_hash: string
  expires_at: Date
  failed_attempts: number
  created_at: Date
}

export interface MailOutboxTable {
  seq: Generated<number>
  id: string
  recipient: string
  subject: string
  /** Erased once sent: it may hold a one-time code. */
  body: string | null
  created_at: Date
  /** When the sender may next try; also its claim on the row while sending. */
  next_attempt_at: Date
  attempts: number
  last_error: string | null
  sent_at: Date | null
}

export interface AuthDatabase extends BusTables {
  users: UsersTable
  refresh_tokens: RefreshTokensTable
  password_reset_otps: PasswordResetOtpsTable
  mail_outbox: MailOutboxTable
}
