// One bus per process: its own broker link (link.ts) on which every new session declares the
// topology and starts the consumers, the outbox relay, the stall watch, and a graceful close.
// The purge of old outbox and inbox rows is `purge()`, which the service kit runs as a job.
import { type Clock, systemClock } from '@tms/clock'
import { consumerQueues, type Envelope, type EventData, type EventType } from '@tms/contracts'
import { onCommit } from '@tms/db'
import type { Logger } from '@tms/logging'
import amqplib from 'amqplib'
import type { Kysely, Transaction } from 'kysely'
import { Consumer, type Outcome } from './consumer.ts'
import type { Handlers, Topology } from './handlers.ts'
import { BrokerLink, withTimeout } from './link.ts'
import type { BusTables } from './migrations.ts'
import { OutboxRelay, writeToOutbox } from './outbox.ts'
import { purgeOld, type Retention } from './purge.ts'
import { type BusStatus, StallWatch } from './status.ts'
import { consumerNames, declareTopology, exchangeName } from './topology.ts'

/** BUS_RETRY_DELAYS_MS's default: about 71 minutes in all before an event is dead-lettered. */
export const defaultRetryDelaysMs = [1000, 10_000, 60_000, 600_000, 3_600_000]

export interface BusOptions<DB, Top extends Topology = typeof consumerQueues> {
  /** The producing service: the envelope's `producer` and the owner of its consumers. */
  service: string
  url: string
  /** Prefix of every exchange and queue name, e.g. `tms.`; tests use a unique one. */
  prefix: string
  /** The service's database; it has the bus tables (busMigrations). */
  db: Kysely<DB>
  logger: Logger
  /** Time of the inbox's handled_at, the outbox's published_at, the purge, stall and outages. */
  clock?: Clock
  /** One TTL retry queue per delay; after the last, the dead-letter queue. */
  retryDelaysMs?: number[]
  /** Consumer queues and their event types; the contracts' `consumerQueues` by default. */
  topology?: Top
  prefetch?: number
  relay?: { enabled?: boolean; pollIntervalMs?: number; lingerMs?: number; batchSize?: number }
  retention?: Retention
  /** First delay before reconnecting (1 s); it doubles per failed attempt up to reconnectMaxMs. */
  reconnectMs?: number
  /** The longest delay between reconnection attempts (15 s). */
  reconnectMaxMs?: number
  heartbeatSeconds?: number
  /** A consumer with unsettled deliveries and no progress for this long is stalled (60 s). */
  stallAfterMs?: number
  /** Called after each consumed message was settled: for metrics and benchmarks. */
  onProcessed?: (outcome: Outcome, event: Envelope | undefined) => void
  /** Test hook, see OutboxRelay. */
  afterPublish?: (envelopes: Envelope[]) => void | Promise<void>
}

export interface Bus<DB = unknown, Top extends Topology = typeof consumerQueues> {
  /** Writes an event to the outbox in the caller's transaction. */
  enqueue<T extends EventType>(
    trx: Transaction<BusTables> | Transaction<never> | Kysely<BusTables>,
    type: T,
    data: EventData<T>,
    options?: { correlationId?: string },
  ): Promise<Envelope<T>>
  /**
   * Registers the handlers of one of the topology's consumer queues, one per event type bound
   * to it; call before start().
   */
  subscribe<C extends keyof Top & string>(consumer: C, handlers: Handlers<DB, Top[C][number]>): void
  /** Connects (and keeps reconnecting); resolves once the first session is set up. */
  start(): Promise<void>
  /** Publishes pending outbox rows now instead of at the next poll. */
  wake(): void
  /** The broker link and each consumer's progress; see busReadiness. */
  status(): BusStatus
  /**
   * Deletes published outbox rows and inbox records older than the retention, in batches; safe
   * with several replicas at once. The service kit runs it as a job (hourly).
   */
  purge(now?: Date): Promise<{ outbox: number; inbox: number }>
  /** Stops consuming, finishes in-flight handlers, stops the relay, closes the connection. */
  close(): Promise<void>
  /** Deletes every queue and the exchange under the prefix (tests). */
  deleteTopology(): Promise<void>
}

export function createBus<DB, Top extends Topology = typeof consumerQueues>(
  options: BusOptions<DB, Top>,
): Bus<DB, Top> {
  const retryDelaysMs = options.retryDelaysMs ?? defaultRetryDelaysMs
  const topology: Topology = options.topology ?? consumerQueues
  const clock = options.clock ?? systemClock
  const exchange = exchangeName(options.prefix)
  const log = options.logger.child({ component: 'bus' })
  const db = options.db as unknown as Kysely<BusTables>
  const consumers: Consumer[] = []
  const stallWatch = new StallWatch({
    logger: log,
    clock,
    stallAfterMs: options.stallAfterMs ?? 60_000,
  })
  let stallTimer: NodeJS.Timeout | undefined
  let link: BrokerLink | undefined
  let relay: OutboxRelay | undefined
  let closing: Promise<void> | undefined

  const bus: Bus<DB, Top> = {
    enqueue(trx, type, data, enqueueOptions) {
      // The row is visible once the caller commits: wake the relay then. A transaction not
      // made with @tms/db's transaction() is found by the relay's next poll.
      onCommit(trx, () => relay?.wake())
      const outbox = trx as Kysely<BusTables>
      return writeToOutbox(outbox, options.service, type, data, clock, enqueueOptions)
    },

    subscribe(consumer, handlers) {
      const types = topology[consumer]
      if (!types) throw new Error(`no consumer queue "${consumer}" in the topology`)
      const byType: Partial<Record<EventType, unknown>> = handlers
      const missing = types.filter((type) => typeof byType[type] !== 'function')
      if (missing.length > 0) throw new Error(`${consumer}: no handler for ${missing.join(', ')}`)
      if (link) throw new Error('subscribe before start()')
      consumers.push(
        new Consumer({
          consumer,
          names: consumerNames(options.prefix, consumer, retryDelaysMs),
          handlers,
          db,
          logger: log,
          clock,
          prefetch: options.prefetch ?? 10,
          onProcessed: options.onProcessed,
          onCancelled: () => link?.restart(),
        }),
      )
    },

    async start() {
      if (closing) return
      link ??= new BrokerLink({
        url: options.url,
        name: options.service,
        logger: log,
        clock,
        reconnectMs: options.reconnectMs ?? 1000,
        reconnectMaxMs: options.reconnectMaxMs ?? 15_000,
        heartbeatSeconds: options.heartbeatSeconds ?? 5,
        async onSession(session) {
          const retryQueues = consumers.map((c) => c.options.names)
          await declareTopology(session.publishing, options.prefix, topology, retryQueues)
          for (const consumer of consumers) await consumer.start(session.consuming)
        },
      })
      if (options.relay?.enabled !== false && !relay) {
        relay = new OutboxRelay({
          db,
          channel: () => link?.current?.publishing,
          exchange,
          logger: log,
          clock,
          pollIntervalMs: options.relay?.pollIntervalMs,
          lingerMs: options.relay?.lingerMs,
          batchSize: options.relay?.batchSize,
          afterPublish: options.afterPublish,
        })
        relay.start()
      }
      if (!stallTimer) {
        const stallEvery = Math.max(100, Math.min((options.stallAfterMs ?? 60_000) / 4, 5000))
        // Each look asks the broker about the idle consumers' queues, then status() logs a
        // consumer that became stalled or recovered.
        stallTimer = setInterval(() => {
          void Promise.all(consumers.map((c) => c.lookAtQueue().catch(() => {}))).then(() =>
            bus.status(),
          )
        }, stallEvery)
        stallTimer.unref()
      }
      await link.start()
    },

    wake() {
      relay?.wake()
    },

    status() {
      const state = link?.state()
      const connected = state?.connected ?? false
      return {
        connected,
        downSince: state?.downSince,
        failedAttempts: state?.failedAttempts ?? 0,
        consumers: stallWatch.observe(
          connected,
          consumers.map((c) => c.progress()),
        ),
      }
    },

    purge(now = clock.now()) {
      return purgeOld(db, options.retention ?? {}, now)
    },

    close() {
      closing ??= (async () => {
        clearInterval(stallTimer)
        // Without a connection there is nothing to cancel: the broker already requeued
        // whatever this process had not acked.
        await withTimeout(Promise.all(consumers.map((c) => c.stop())), 5000).catch(() => {})
        await withTimeout(Promise.all(consumers.map((c) => c.drain())), 30_000).catch(() => {})
        await relay?.stop()
        await link?.close()
      })()
      return closing
    },

    deleteTopology() {
      return deleteTopology({ url: options.url, prefix: options.prefix, retryDelaysMs, topology })
    },
  }
  return bus
}

/**
 * Deletes every queue and the exchange a bus with these settings declares (tests and tools
 * that ran services under a prefix of their own).
 */
export async function deleteTopology(options: {
  url: string
  prefix: string
  retryDelaysMs?: number[]
  topology?: Topology
}): Promise<void> {
  const conn = await amqplib.connect(options.url)
  try {
    const c = await conn.createChannel()
    for (const consumer of Object.keys(options.topology ?? consumerQueues)) {
      const names = consumerNames(
        options.prefix,
        consumer,
        options.retryDelaysMs ?? defaultRetryDelaysMs,
      )
      for (const q of [names.queue, names.dlq, ...names.retry.map((r) => r.queue)]) {
        await c.deleteQueue(q)
      }
    }
    await c.deleteExchange(exchangeName(options.prefix))
  } finally {
    await conn.close()
  }
}
