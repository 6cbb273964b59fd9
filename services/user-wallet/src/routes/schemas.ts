// Request and response schemas of the /user routes; every body refuses unknown fields. The
// account fields are @tms/contracts' rules, the same the auth service and the events use.
import { Email, Name, Phone, Role, UsernameInput } from '@tms/contracts'
import { ProblemSchema } from '@tms/http'
import Type, { type TSchema } from 'typebox'
import { MAX_AMOUNT } from '../domain/ledger.ts'

const strict = { additionalProperties: false } as const
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

/** Ids are opaque, but always URL-safe tokens (auth makes UUIDs): never blank or spaced. */
export const UserId = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })
const Amount = Type.Integer({
  minimum: 1,
  maximum: MAX_AMOUNT,
  description: 'minor units of the currency (cents)',
})

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

export const DepositBody = Type.Object(
  {
    amount: Amount,
    currency: Type.Optional(Type.String({ pattern: '^[a-zA-Z]{3}$' })),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** Beyond the SPEC's fields: why the admin adds the money, recorded with the movement. */
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' })),
  },
  strict,
)

export const DebitBody = Type.Object(
  {
    amount: Amount,
    reason: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' }),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  strict,
)

export const MovementAnswer = Type.Object({
  balance: Type.Integer(),
  available_balance: Type.Integer(),
  transaction_id: Type.String(),
})

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$' })),
  },
  strict,
)

export const LedgerItem = Type.Object({
  id: Type.String({ description: 'the entry' }),
  transaction_id: Type.String(),
  kind: Type.String({ description: 'deposit, debit, hold, release or capture' }),
  account: Type.String({ description: 'available or held' }),
  amount: Type.Integer({ description: 'signed: positive credits the account' }),
  session_id: Nullable(Type.String()),
  actor_id: Type.Optional(
    Nullable(Type.String({ description: 'the admin who moved the money; shown to admins only' })),
  ),
  reason: Nullable(Type.String()),
  reference: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
})

export const LedgerPage = Type.Object({
  items: Type.Array(LedgerItem),
  next_cursor: Nullable(Type.String()),
})

export function problems(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))
}
