// Schemas of the account routes. The account fields (username, email, name, phone, role) are
// @tms/contracts' rules, the same the events are checked with.
import { Email, Name, Phone, Role, SelfServiceRole, UsernameInput } from '@tms/contracts'
import Type from 'typebox'
import { strict } from './common.ts'
import { GivenPassword, NewPassword } from './passwords.ts'

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

export const EmailChangeBody = Type.Object(
  { current_password: GivenPassword, new_email: Email },
  strict,
)
