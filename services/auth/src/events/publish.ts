// The events auth publishes (SPEC catalogue, version 1), always written to the bus outbox in
// the same transaction as the change they describe.
import type { Bus } from '@tms/bus'
import type { Transaction } from '@tms/db'
import type { AuthDatabase, UsersTable } from '../db/schema.ts'

export type EventOutbox = Pick<Bus, 'enqueue'>

export function userRegistered(
  bus: EventOutbox,
  trx: Transaction<AuthDatabase>,
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
  trx: Transaction<AuthDatabase>,
  data: { user_id: string; role: UsersTable['role']; changed_by: string },
) {
  return bus.enqueue(trx, 'auth.user.role-changed', data)
}

export function userEmailChanged(
  bus: EventOutbox,
  trx: Transaction<AuthDatabase>,
  data: { user_id: string; email: string },
) {
  return bus.enqueue(trx, 'auth.user.email-changed', data)
}
