// The producing side: events are written to the outbox in the producer's own transaction and
// published by a relay with publisher confirms; a row is marked sent only after the broker's
// ack, so a crash or a broker outage at any point leads to a re-publish, never a loss.
import type { Clock } from '@tms/clock'
import { type Envelope, type EventData, type EventType, makeEnvelope } from '@tms/contracts'
import { transaction } from '@tms/db'
import { currentCorrelationId, type Logger } from '@tms/logging'
import type { ConfirmChannel } from 'amqplib'
import type { Kysely, Transaction } from 'kysely'
import { confirmed } from './link.ts'
import type { BusTables } from './migrations.ts'

/** How long a batch may wait for the broker's confirms before it is rolled back and retried. */
const CONFIRM_TIMEOUT_MS = 10_000

/**
 * The relay's transaction holds its rows while it waits for the broker's confirms. At READ
 * COMMITTED its locking read locks those rows only; at REPEATABLE READ it would also lock the
 * gap after the last unpublished row of the (published_at, seq) index, which is exactly where
 * every new event goes, so each producer's insert would wait for the batch's confirms.
 */
const relayTransaction = { isolationLevel: 'read committed' } as const

export async function writeToOutbox<T extends EventType>(
  trx: Transaction<BusTables> | Kysely<BusTables>,
  producer: string,
  type: T,
  data: EventData<T>,
  clock: Clock,
  options: { correlationId?: string } = {},
): Promise<Envelope<T>> {
  const envelope = makeEnvelope(type, data, {
    producer,
    correlationId: options.correlationId ?? currentCorrelationId(),
    occurredAt: clock.now(),
  })
  await trx
    .insertInto('bus_outbox')
    .values({
      id: envelope.id,
      type,
      envelope: JSON.stringify(envelope),
      created_at: new Date(envelope.occurred_at),
      published_at: null,
    })
    .execute()
  return envelope
}

export interface RelayOptions {
  db: Kysely<BusTables>
  /** The current session's publishing channel; undefined while the link is down. */
  channel: () => ConfirmChannel | undefined
  exchange: string
  logger: Logger
  clock: Clock
  /** Rows published per transaction. */
  batchSize?: number
  /** How often to look for new rows when nothing woke the relay. */
  pollIntervalMs?: number
  /** How long to let committed events gather after a wake before publishing them. */
  lingerMs?: number
  /** Test hook: runs after the broker confirmed a batch, before the rows are marked sent. */
  afterPublish?: (envelopes: Envelope[]) => void | Promise<void>
}

export class OutboxRelay {
  private readonly options: Required<Omit<RelayOptions, 'afterPublish'>> &
    Pick<RelayOptions, 'afterPublish'>
  private running = false
  private loop: Promise<void> | undefined
  private wakeUp: (() => void) | undefined
  /** A wake() that came while a batch was running: look again at once instead of sleeping. */
  private woken = false
  private failures = 0

  constructor(options: RelayOptions) {
    this.options = {
      ...options,
      batchSize: options.batchSize ?? 100,
      pollIntervalMs: options.pollIntervalMs ?? 200,
      lingerMs: options.lingerMs ?? 2,
    }
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Look for new rows now rather than at the next poll (called after a producer enqueues). */
  wake(): void {
    this.woken = true
    this.wakeUp?.()
  }

  async stop(): Promise<void> {
    this.running = false
    this.wake()
    await this.loop
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false
      let published = 0
      try {
        const channel = this.options.channel()
        if (channel) published = await this.publishBatch(channel)
        this.failures = 0
      } catch (err) {
        this.failures++
        this.options.logger.warn(
          { err, failures: this.failures },
          'outbox relay: batch failed, will retry',
        )
      }
      if (published === this.options.batchSize) continue
      // Woken during the batch: look again at once when events come one at a time; when they
      // come several per batch, linger a moment so concurrent commits gather into one batch
      // (one relay commit for many events rather than one each). Otherwise sleep until the
      // next poll or wake, backing off while the broker or the database fails.
      const again = this.woken && this.failures === 0
      if (again && published <= 1) continue
      const linger = again
      const wait = linger
        ? this.options.lingerMs
        : Math.min(this.options.pollIntervalMs * 2 ** this.failures, 5000)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        if (linger) return
        this.wakeUp = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wakeUp = undefined
    }
  }

  /**
   * Locks a batch of unpublished rows (SKIP LOCKED, so several relay replicas share the work),
   * publishes them, waits for every confirm, then marks them sent in the same transaction.
   */
  private publishBatch(channel: ConfirmChannel): Promise<number> {
    const { db, exchange, batchSize, clock } = this.options
    return transaction(
      db,
      async (trx) => {
        const rows = await trx
          .selectFrom('bus_outbox')
          .select(['id', 'type', 'envelope'])
          .where('published_at', 'is', null)
          .orderBy('seq')
          .limit(batchSize)
          .forUpdate()
          .skipLocked()
          .execute()
        if (rows.length === 0) return 0
        const envelopes = rows.map((row) => JSON.parse(row.envelope) as Envelope)
        const timestamp = Math.floor(clock.now().getTime() / 1000)
        await Promise.all(
          rows.map((row, i) =>
            confirmed(
              (done) =>
                channel.publish(
                  exchange,
                  row.type,
                  Buffer.from(row.envelope),
                  {
                    persistent: true,
                    messageId: row.id,
                    type: row.type,
                    contentType: 'application/json',
                    correlationId: envelopes[i]?.correlation_id,
                    timestamp,
                  },
                  done,
                ),
              CONFIRM_TIMEOUT_MS,
            ),
          ),
        )
        await this.options.afterPublish?.(envelopes)
        await trx
          .updateTable('bus_outbox')
          .set({ published_at: clock.now() })
          .where(
            'id',
            'in',
            rows.map((r) => r.id),
          )
          .execute()
        return rows.length
      },
      relayTransaction,
    )
  }
}
