// Schemas of the `wallet` resource: money by hand and the ledger's history.
import Type from 'typebox'
import { MAX_AMOUNT } from '../../domain/ledger.ts'
import { Nullable, strict } from './user.ts'

const Amount = Type.Integer({
  minimum: 1,
  maximum: MAX_AMOUNT,
  description: 'minor units of the currency (cents)',
})

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
