// Schemas of /auth/password and the password reset; the password rules every route shares.
import { Email } from '@tms/contracts'
import Type from 'typebox'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../domain/password.ts'
import { strict } from './common.ts'

export const NewPassword = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
})
/** A password being checked, not set: any length up to a bound on the hashing input. */
export const GivenPassword = Type.String({ minLength: 1, maxLength: 1024 })
const Otp = Type.String({ pattern: '^[0-9]{6}$', description: 'the 6-digit code from the mail' })

export const PasswordChangeBody = Type.Object(
  { current_password: GivenPassword, new_password: NewPassword },
  strict,
)

export const OtpRequestBody = Type.Object({ email: Email }, strict)
export const Accepted = Type.Object({ detail: Type.String() })

export const VerifyQuery = Type.Object({ email: Email, otp: Otp }, strict)
export const Valid = Type.Object({ valid: Type.Literal(true) })

export const ResetBody = Type.Object({ email: Email, otp: Otp, new_password: NewPassword }, strict)
