// Request and response schemas of the /auth routes; every body refuses unknown fields.
// The account fields (username, email, name, phone, role) are @tms/contracts' rules, the same
// the events are checked with.
import {
  EMAIL_MAX_LENGTH,
  Email,
  Name,
  Phone,
  Role,
  SelfServiceRole,
  UsernameInput,
} from '@tms/contracts'
import { ProblemSchema } from '@tms/http'
import Type from 'typebox'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../domain/password.ts'

const strict = { additionalProperties: false } as const

export const NewPassword = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
})
/** A password being checked, not set: any length up to a bound on the hashing input. */
const GivenPassword = Type.String({ minLength: 1, maxLength: 1024 })
const Otp = Type.String({ pattern: '^[0-9]{6}$', description: 'the 6-digit code from the mail' })

export const SignupBody = Type.Object(
  {
    username: UsernameInput,
    email: Email,
    password: NewPassword,
    role: SelfServiceRole,
    name: Type.Optional(Name),
    phone: Type.Optional(Phone),
  },
  strict,
)

export const Account = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  role: Role,
})

export const LoginBody = Type.Object(
  {
    username: Type.String({
      minLength: 1,
      maxLength: EMAIL_MAX_LENGTH,
      description: 'the username or the email',
    }),
    password: GivenPassword,
    grant_type: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
    scope: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
    client_id: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
    client_secret: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
  },
  strict,
)

export const TokenPair = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'seconds' }),
  refresh_token: Type.String(),
})

export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 200 }) },
  strict,
)

export const PasswordChangeBody = Type.Object(
  { current_password: GivenPassword, new_password: NewPassword },
  strict,
)

export const EmailChangeBody = Type.Object(
  { current_password: GivenPassword, new_email: Email },
  strict,
)

export const OtpRequestBody = Type.Object({ email: Email }, strict)
export const Accepted = Type.Object({ detail: Type.String() })

export const VerifyQuery = Type.Object({ email: Email, otp: Otp }, strict)
export const Valid = Type.Object({ valid: Type.Literal(true) })

export const ResetBody = Type.Object({ email: Email, otp: Otp, new_password: NewPassword }, strict)

export const UpdateRoleBody = Type.Object(
  { user_id: Type.String({ minLength: 1, maxLength: 64 }), role: Role },
  strict,
)
export const RoleAnswer = Type.Object({ id: Type.String(), role: Role })

export const Jwks = Type.Object({
  keys: Type.Array(
    Type.Object({
      kty: Type.String(),
      crv: Type.String(),
      x: Type.String(),
      y: Type.String(),
      kid: Type.String(),
      alg: Type.String(),
      use: Type.String(),
    }),
  ),
})

/** Problem responses for the OpenAPI document. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))
}

export const NoContent = Type.Null({ description: 'No Content' })
