// The consuming side: each event is handled in one transaction together with its inbox record
// (consumer, event id), so a redelivery changes nothing. A failure is retried through the TTL
// queues with growing delays, then parked in the dead-letter queue with the reason.
import { ContractError, type Envelope, type EventType, parseEnvelope } from '@tms/contracts'
import { isDuplicateKey, transaction } from '@tms/db'
import { type Logger, withCorrelation } from '@tms/logging'
import type { ChannelWrapper } from 'amqp-connection-manager'
import type { ConsumeMessage } from 'amqplib'
import type { Kysely, Transaction } from 'kysely'
import type { BusTables } from './migrations.ts'
import type { ConsumerNames } from './topology.ts'

export type EventHandler<DB = unknown> = (
  event: Envelope,
  trx: Transaction<DB & BusTables>,
) => Promise<void>

/** Headers the bus puts on messages it moves between its queues. */
export const headers = {
  attempt: 'x-tms-attempt',
  error: 'x-tms-error',
  failedAt: 'x-tms-failed-at',
}

export interface ConsumerOptions {
  consumer: string
  names: ConsumerNames
  eventTypes: readonly EventType[]
  handler: EventHandler
  db: Kysely<BusTables>
  channel: ChannelWrapper
  logger: Logger
  /** The channel's generation: an ack for a delivery of an earlier channel must not be sent. */
  generation: () => number
  /** Called after a message was settled (its effect committed, or moved on), for metrics. */
  onProcessed?: (outcome: Outcome, event: Envelope | undefined) => void
}

/** How the bus runs a handler's transaction; tests that call handlers directly use it too. */
export const consumerTransaction = { isolationLevel: 'read committed' } as const

export type Outcome = 'handled' | 'duplicate' | 'retried' | 'dead-lettered'

function errorText(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 1000)
}

export class Consumer {
  private readonly inFlight = new Set<Promise<void>>()
  readonly options: ConsumerOptions

  constructor(options: ConsumerOptions) {
    this.options = options
  }

  async start(prefetch: number): Promise<void> {
    await this.options.channel.consume(
      this.options.names.queue,
      (msg) => {
        const work = this.onMessage(msg)
        this.inFlight.add(work)
        work.finally(() => this.inFlight.delete(work))
      },
      { prefetch, noAck: false },
    )
  }

  /** Resolves when every message taken so far has been handled and acked. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  private async onMessage(msg: ConsumeMessage): Promise<void> {
    const generation = this.options.generation()
    const { logger, channel, consumer } = this.options
    try {
      const { outcome, event } = await this.process(msg)
      logger.debug({ consumer, outcome, message_id: msg.properties.messageId }, 'event processed')
      if (generation === this.options.generation()) channel.ack(msg)
      this.options.onProcessed?.(outcome, event)
    } catch (err) {
      // Moving the message on failed (the broker went away): it was not acked, so the broker
      // delivers it again, and the inbox makes sure it takes effect once.
      logger.warn({ err, consumer }, 'could not settle a message; it will be redelivered')
    }
  }

  private async process(msg: ConsumeMessage): Promise<{ outcome: Outcome; event?: Envelope }> {
    const { logger, consumer, db, handler } = this.options
    let event: Envelope
    try {
      event = parseEnvelope(JSON.parse(msg.content.toString('utf8')))
      if (!this.options.eventTypes.includes(event.type)) {
        throw new ContractError(`${consumer} does not handle ${event.type}`)
      }
    } catch (err) {
      logger.error({ err, consumer }, 'invalid message: dead-lettered without retry')
      await this.deadLetter(msg, err)
      return { outcome: 'dead-lettered' }
    }
    const outcome = await withCorrelation(event.correlation_id, async () => {
      const log = logger.child({ consumer, event_id: event.id, event_type: event.type })
      try {
        // READ COMMITTED: handlers lock what they read (SELECT … FOR UPDATE), and a locking read
        // of a row that does not exist yet then takes no gap lock, which under REPEATABLE READ
        // deadlocks concurrent first events of different keys against each other.
        const fresh = await transaction(
          db,
          async (trx) => {
            try {
              await trx
                .insertInto('bus_inbox')
                .values({ consumer, event_id: event.id, handled_at: new Date() })
                .execute()
            } catch (err) {
              if (isDuplicateKey(err)) return false
              throw err
            }
            await handler(event, trx as never)
            return true
          },
          consumerTransaction,
        )
        if (!fresh) log.info('duplicate delivery ignored')
        return fresh ? 'handled' : 'duplicate'
      } catch (err) {
        return this.retryOrDeadLetter(msg, err, log)
      }
    })
    return { outcome, event }
  }

  private async retryOrDeadLetter(
    msg: ConsumeMessage,
    err: unknown,
    log: Logger,
  ): Promise<Outcome> {
    const attempt = Number(msg.properties.headers?.[headers.attempt] ?? 0)
    const step = this.options.names.retry[attempt]
    if (err instanceof ContractError || !step) {
      log.error({ err, attempt }, 'handler failed for good: dead-lettered')
      await this.deadLetter(msg, err)
      return 'dead-lettered'
    }
    log.warn(
      { err, attempt: attempt + 1, delay_ms: step.delayMs },
      'handler failed: retrying later',
    )
    await this.options.channel.sendToQueue(step.queue, msg.content, {
      ...msg.properties,
      persistent: true,
      headers: {
        ...msg.properties.headers,
        [headers.attempt]: attempt + 1,
        [headers.error]: errorText(err),
      },
    })
    return 'retried'
  }

  private async deadLetter(msg: ConsumeMessage, err: unknown): Promise<void> {
    await this.options.channel.sendToQueue(this.options.names.dlq, msg.content, {
      ...msg.properties,
      persistent: true,
      headers: {
        ...msg.properties.headers,
        [headers.error]: errorText(err),
        [headers.failedAt]: new Date().toISOString(),
      },
    })
  }
}
