// Schemas of the `user` resource; every body refuses unknown fields. The account fields are
// @tms/contracts' rules, the same the auth service and the events use.
import { Email, Name, Phone, Role, UsernameInput } from '@tms/contracts'
import Type, { type TSchema } from 'typebox'

export const strict = { additionalProperties: false } as const
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

/** Ids are opaque, but always URL-safe tokens (auth makes UUIDs): never blank or spaced. */
export const UserId = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })

export const UserIdParams = Type.Object({ user_id: UserId }, strict)
export const EmailParams = Type.Object({ email: Email }, strict)
export const UsernameParams = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }) },
  strict,
)

export const UserView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  name: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  role: Role,
  balance: Type.Integer({ description: 'available + held, minor units' }),
  available_balance: Type.Integer({ description: 'what can be spent or held, minor units' }),
  currency: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
})

export const UpdateBody = Type.Object(
  { name: Type.Optional(Nullable(Name)), phone: Type.Optional(Nullable(Phone)) },
  strict,
)

export const CreateBody = Type.Object(
  {
    user_id: UserId,
    username: UsernameInput,
    email: Email,
    name: Type.Optional(Nullable(Name)),
    phone: Type.Optional(Nullable(Phone)),
  },
  strict,
)
