export {
  type Bus,
  type BusOptions,
  createBus,
  defaultRetryDelaysMs,
  deleteTopology,
} from './bus.ts'
export { consumerTransaction, type Outcome } from './consumer.ts'
export { type DeadLetter, listDeadLetters, replayDeadLetters } from './dead-letters.ts'
export {
  type ConsumerHandlers,
  type EventHandler,
  type Handlers,
  RetryLater,
  type Topology,
} from './handlers.ts'
export { type BusTables, busMigrations, type InboxTable, type OutboxTable } from './migrations.ts'
export type { Retention } from './purge.ts'
export { headers } from './retries.ts'
export { type BusStatus, busReadiness, type ConsumerStatus } from './status.ts'
export { consumerNames, exchangeName } from './topology.ts'
