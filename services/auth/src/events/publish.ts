// The events auth publishes (SPEC catalogue, version 1), always written to the bus outbox in
// the same transaction as the change they describe.
import type { Bus } from '@tms/bus'
import { ContractError, type EventData, type EventType } from '@tms/contracts'
import type { Transaction } from '@tms/db'
import { httpError } from '@tms/http'
import type { AuthDatabase, UsersTable } from '../db/schema.ts'

export type EventOutbox = Pick<Bus, 'enqueue'>

/**
 * Writes the event in the transaction. The routes accept only what the contracts accept (the
 * same rules, and test/contract-rules.test.ts); should an event still fail its contract, the
 * request that made it answers 400 and its transaction rolls back: a client's input never
 * turns into a 500. The failure is a bug: it is logged at error level with the contract's
 * message (which the problem's detail does not repeat).
 */
async function publish<T extends EventType>(
  bus: EventOutbox,
  trx: Transaction<AuthDatabase>,
  type: T,
  data: EventData<T>,
) {
  try {
    return await bus.enqueue(trx, type, data)
  } catch (err) {
    if (!(err instanceof ContractError)) throw err
    throw httpError(400, 'the request holds a value that cannot be recorded', { cause: err })
  }
}

export function userRegistered(
  bus: EventOutbox,
  trx: Transaction<AuthDatabase>,
  user: Pick<UsersTable, 'id' | 'username' | 'email' | 'role' | 'name' | 'phone'>,
) {
  return publish(bus, trx, 'auth.user.registered', {
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
  return publish(bus, trx, 'auth.user.role-changed', data)
}

export function userEmailChanged(
  bus: EventOutbox,
  trx: Transaction<AuthDatabase>,
  data: { user_id: string; email: string },
) {
  return publish(bus, trx, 'auth.user.email-changed', data)
}
