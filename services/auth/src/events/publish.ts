// The events auth publishes (SPEC catalogue, version 1), always written to the bus outbox in
// the same transaction as the change they describe. The routes accept only what the contracts
// accept (the same rules; test/contract-rules.test.ts); should an event still fail its
// contract, enqueue throws ContractError, the transaction rolls back, and the request answers
// 400 (routes/problems.ts), logged as the bug it is.
import type { Bus } from '@tms/bus'
import type { Transaction } from '@tms/db'
import type { AuthDatabase, UsersTable } from '../db/schema.ts'

export type EventOutbox = Pick<Bus, 'enqueue'>
type Trx = Transaction<AuthDatabase>

export function userRegistered(
  bus: EventOutbox,
  trx: Trx,
  user: Pick<UsersTable, 'id' | 'username' | 'email' | 'role' | 'name' | 'phone'>,
) {
  return bus.enqueue(trx, 'auth.user.registered', {
    user_id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    name: user.name,
    phone: user.phone,
  })
}

export function userRoleChanged(
  bus: EventOutbox,
  trx: Trx,
  data: { user_id: string; role: UsersTable['role']; changed_by: string },
) {
  return bus.enqueue(trx, 'auth.user.role-changed', data)
}

export function userEmailChanged(
  bus: EventOutbox,
  trx: Trx,
  data: { user_id: string; email: string },
) {
  return bus.enqueue(trx, 'auth.user.email-changed', data)
}
