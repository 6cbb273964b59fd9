// One bus per process: a connection that comes back by itself (amqp-connection-manager re-runs
// the topology and re-registers consumers after every reconnect), the outbox relay, the
// consumers, the purge of old outbox and inbox rows, and a graceful close.
import { consumerQueues, type Envelope, type EventData, type EventType } from '@tms/contracts'
import { onCommit } from '@tms/db'
import type { Logger } from '@tms/logging'
import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager'
import amqplib, { type ConfirmChannel } from 'amqplib'
import type { Kysely, Transaction } from 'kysely'
import { Consumer, type EventHandler, type Outcome } from './consumer.ts'
import type { BusTables } from './migrations.ts'
import { OutboxRelay, writeToOutbox } from './outbox.ts'
import {
  consumerNames,
  declareConsumerQueues,
  declareRetryQueues,
  exchangeName,
} from './topology.ts'

export interface BusOptions {
  /** The producing service: the envelope's `producer` and the owner of its consumers. */
  service: string
  url: string
  /** Prefix of every exchange and queue name, e.g. `tms.`; tests use a unique one. */
  prefix: string
  // biome-ignore lint/suspicious/noExplicitAny: any service schema that includes the bus tables
  db: Kysely<any>
  logger: Logger
  /** One TTL retry queue per delay; after the last, the dead-letter queue. */
  retryDelaysMs?: number[]
  /** Consumer queues and their event types; the SPEC's by default. */
  topology?: Record<string, readonly EventType[]>
  prefetch?: number
  relay?: { enabled?: boolean; pollIntervalMs?: number; lingerMs?: number; batchSize?: number }
  /** Published outbox rows and inbox records older than this are purged. */
  retention?: { outboxMs?: number; inboxMs?: number; everyMs?: number }
  /** Milliseconds between reconnection attempts. */
  reconnectMs?: number
  /** Called after each consumed message was settled: for metrics and benchmarks. */
  onProcessed?: (outcome: Outcome, event: Envelope | undefined) => void
  /** Test hook, see OutboxRelay. */
  afterPublish?: (envelopes: Envelope[]) => void | Promise<void>
}

export interface Bus {
  /** Writes an event to the outbox in the caller's transaction. */
  enqueue<T extends EventType>(
    trx: Transaction<BusTables> | Transaction<never> | Kysely<BusTables>,
    type: T,
    data: EventData<T>,
    options?: { correlationId?: string },
  ): Promise<Envelope<T>>
  /** Registers the handler of one of the topology's consumers; call before start(). */
  subscribe<DB>(consumer: string, handler: EventHandler<DB>): void
  start(): Promise<void>
  /** Publishes pending outbox rows now instead of at the next poll. */
  wake(): void
  isConnected(): boolean
  /** Deletes published outbox rows and inbox records older than the retention. */
  purge(now?: Date): Promise<{ outbox: number; inbox: number }>
  /** Stops consuming, finishes in-flight handlers, stops the relay, closes the connection. */
  close(): Promise<void>
  /** Deletes every queue and the exchange under the prefix (tests). */
  deleteTopology(): Promise<void>
}

const DAY = 24 * 60 * 60 * 1000
const PURGE_BATCH = 1000

export function createBus(options: BusOptions): Bus {
  const retryDelaysMs = options.retryDelaysMs ?? [1000, 10_000, 60_000, 600_000]
  const topology: Record<string, readonly EventType[]> = options.topology ?? consumerQueues
  const exchange = exchangeName(options.prefix)
  const log = options.logger.child({ component: 'bus' })
  const handlers = new Map<string, EventHandler>()
  const consumers: Consumer[] = []
  let connection: AmqpConnectionManager | undefined
  let channel: ChannelWrapper | undefined
  let relay: OutboxRelay | undefined
  let purgeTimer: NodeJS.Timeout | undefined
  let generation = 0
  let closing: Promise<void> | undefined

  const db = options.db as Kysely<BusTables>

  async function purge(now = new Date()) {
    const outboxBefore = new Date(now.getTime() - (options.retention?.outboxMs ?? 7 * DAY))
    const inboxBefore = new Date(now.getTime() - (options.retention?.inboxMs ?? 30 * DAY))
    // In batches, so a large backlog never holds locks on the whole table at once.
    const inBatches = async (remove: () => Promise<{ numDeletedRows: bigint }>) => {
      let total = 0
      for (;;) {
        const deleted = Number((await remove()).numDeletedRows)
        total += deleted
        if (deleted < PURGE_BATCH) return total
      }
    }
    const outbox = await inBatches(() =>
      db
        .deleteFrom('bus_outbox')
        .where('published_at', '<', outboxBefore)
        .limit(PURGE_BATCH)
        .executeTakeFirst(),
    )
    const inbox = await inBatches(() =>
      db
        .deleteFrom('bus_inbox')
        .where('handled_at', '<', inboxBefore)
        .limit(PURGE_BATCH)
        .executeTakeFirst(),
    )
    return { outbox, inbox }
  }

  return {
    enqueue(trx, type, data, enqueueOptions) {
      // The row is visible once the caller commits: wake the relay then. A transaction not
      // made with @tms/db's transaction() is found by the relay's next poll.
      onCommit(trx, () => relay?.wake())
      return writeToOutbox(trx as Kysely<BusTables>, options.service, type, data, enqueueOptions)
    },

    subscribe(consumer, handler) {
      if (!(consumer in topology))
        throw new Error(`no consumer queue "${consumer}" in the topology`)
      handlers.set(consumer, handler as EventHandler)
    },

    async start() {
      connection = amqp.connect([options.url], {
        reconnectTimeInSeconds: (options.reconnectMs ?? 1000) / 1000,
        heartbeatIntervalInSeconds: 5,
      })
      connection.on('connect', () => log.info('connected to the broker'))
      connection.on('disconnect', ({ err }) => log.warn({ err }, 'disconnected from the broker'))
      const ch = connection.createChannel({
        confirm: true,
        publishTimeout: 10_000,
        setup: async (c: ConfirmChannel) => {
          await c.assertExchange(exchange, 'topic', { durable: true })
          for (const [consumer, types] of Object.entries(topology)) {
            await declareConsumerQueues(c, options.prefix, consumer, types)
          }
          for (const consumer of handlers.keys()) {
            await declareRetryQueues(c, consumerNames(options.prefix, consumer, retryDelaysMs))
          }
        },
      })
      channel = ch
      ch.on('connect', () => generation++)
      ch.on('error', (err) => log.warn({ err }, 'channel error'))
      await ch.waitForConnect()

      for (const [consumer, handler] of handlers) {
        const c = new Consumer({
          consumer,
          names: consumerNames(options.prefix, consumer, retryDelaysMs),
          eventTypes: topology[consumer] ?? [],
          handler,
          db,
          channel: ch,
          logger: log,
          generation: () => generation,
          onProcessed: options.onProcessed,
        })
        consumers.push(c)
        await c.start(options.prefetch ?? 10)
      }

      if (options.relay?.enabled !== false) {
        relay = new OutboxRelay({
          db,
          channel: ch,
          exchange,
          logger: log,
          isConnected: () => connection?.isConnected() ?? false,
          pollIntervalMs: options.relay?.pollIntervalMs,
          lingerMs: options.relay?.lingerMs,
          batchSize: options.relay?.batchSize,
          afterPublish: options.afterPublish,
        })
        relay.start()
      }
      const everyMs = options.retention?.everyMs ?? 60 * 60 * 1000
      purgeTimer = setInterval(() => {
        purge().catch((err) => log.warn({ err }, 'purge failed'))
      }, everyMs)
      purgeTimer.unref()
    },

    wake() {
      relay?.wake()
    },

    isConnected() {
      return connection?.isConnected() ?? false
    },

    purge,

    async close() {
      if (closing) return closing
      closing = (async () => {
        clearInterval(purgeTimer)
        // Without a connection there is nothing to cancel: the broker already requeued
        // whatever this process had not acked.
        if (channel && connection?.isConnected()) {
          await withTimeout(channel.cancelAll(), 5000).catch(() => {})
        }
        await withTimeout(Promise.all(consumers.map((c) => c.drain())), 30_000).catch(() => {})
        await relay?.stop()
        await withTimeout(channel?.close() ?? Promise.resolve(), 5000).catch(() => {})
        await withTimeout(connection?.close() ?? Promise.resolve(), 5000).catch(() => {})
      })()
      return closing
    },

    async deleteTopology() {
      const conn = await amqplib.connect(options.url)
      try {
        const c = await conn.createChannel()
        for (const consumer of Object.keys(topology)) {
          const names = consumerNames(options.prefix, consumer, retryDelaysMs)
          for (const q of [names.queue, names.dlq, ...names.retry.map((r) => r.queue)]) {
            await c.deleteQueue(q)
          }
        }
        await c.deleteExchange(exchange)
      } finally {
        await conn.close()
      }
    },
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
