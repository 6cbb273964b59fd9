// What a service writes against: one handler per event type of a consumer queue, typed from the
// topology (the contracts' `consumerQueues` by default), and the error that says "not yet".
import type { Envelope, EventType } from '@tms/contracts'
import type { Transaction } from 'kysely'

/** Consumer queues and the event types bound to each. */
export type Topology = Record<string, readonly EventType[]>

/** Handles one event inside the bus's transaction, which also records it in the inbox. */
export type EventHandler<DB, T extends EventType> = (
  event: Envelope<T>,
  trx: Transaction<DB>,
) => Promise<void>

/** A handler for every one of the given event types, each receiving its own type's data. */
export type Handlers<DB, T extends EventType> = { [K in T]: EventHandler<DB, K> }

/** The handlers of consumer queue C of a topology. */
export type ConsumerHandlers<DB, Top extends Topology, C extends keyof Top> = Handlers<
  DB,
  Top[C][number]
>

/**
 * Thrown by a handler when the event cannot be decided yet (it depends on an earlier event that
 * has not arrived): the bus retries it through the retry queues like a failure, but logs it at
 * info level and reports it as `deferred`. When the retry steps are used up it is dead-lettered.
 */
export class RetryLater extends Error {
  override name = 'RetryLater'
}
