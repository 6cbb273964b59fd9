// The consuming side: each event is handled in one transaction together with its inbox record
// (consumer, event id), so a redelivery changes nothing. A failure (or a RetryLater) is moved
// on as retries.ts decides; the move is confirmed before the original is acked, and both go to
// the channel the delivery came on.
import type { Clock } from '@tms/clock'
import { ContractError, type Envelope, type EventType, parseEnvelope } from '@tms/contracts'
import { isDuplicateKey, transaction } from '@tms/db'
import { type Logger, withCorrelation } from '@tms/logging'
import type { ConfirmChannel, ConsumeMessage } from 'amqplib'
import type { Kysely, Transaction } from 'kysely'
import type { EventHandler } from './handlers.ts'
import { confirmed } from './link.ts'
import type { BusTables } from './migrations.ts'
import { deadLetter, type Move, retryOrDeadLetter } from './retries.ts'
import type { ConsumerProgress } from './status.ts'
import type { ConsumerNames } from './topology.ts'

/** How the bus runs a handler's transaction; tests that call handlers directly use it too. */
export const consumerTransaction = { isolationLevel: 'read committed' } as const

/**
 * What became of a delivery once it was settled: `deferred` is a RetryLater (not yet), `retried`
 * a failure, both moved to a retry queue; the other three are final.
 */
export type Outcome = 'handled' | 'duplicate' | 'deferred' | 'retried' | 'dead-lettered'

// biome-ignore lint/suspicious/noExplicitAny: handlers of any service's database and event type
type AnyHandler = EventHandler<any, any>

export interface ConsumerOptions {
  consumer: string
  names: ConsumerNames
  handlers: Partial<Record<EventType, AnyHandler>>
  db: Kysely<BusTables>
  logger: Logger
  clock: Clock
  prefetch: number
  /** Called after a delivery was settled (acked after its effect, or moved on), for metrics. */
  onProcessed?: (outcome: Outcome, event: Envelope | undefined) => void
  /** The broker cancelled the consumer (its queue was deleted): the link starts over. */
  onCancelled: () => void
}

/** How long a move to a retry or dead-letter queue may wait for its confirm. */
const MOVE_CONFIRM_MS = 10_000

/** One channel's life as a consumer sees it: its deliveries are settled on it or not at all. */
interface Lane {
  channel: ConfirmChannel
  open: boolean
  /** Deliveries taken on this channel and not yet acked (or requeued). */
  unsettled: number
  consumerTag?: string
}

interface Decision {
  outcome: Outcome
  event?: Envelope
  /** Where the message goes before it is acked: a retry queue or the dead-letter queue. */
  moveTo?: Move
}

export class Consumer {
  readonly options: ConsumerOptions
  private readonly inFlight = new Set<Promise<void>>()
  private lane: Lane | undefined
  private lastProgressAt: Date | undefined
  /** Messages ready in the queue at the last look while idle (lookAtQueue). */
  private waiting: number | undefined
  /** Consecutive looks that found messages ready while this consumer had none to handle. */
  private waitingLooks = 0

  constructor(options: ConsumerOptions) {
    this.options = options
  }

  get name(): string {
    return this.options.consumer
  }

  /** Starts consuming on a new session's channel; the previous channel's deliveries are moot. */
  async start(channel: ConfirmChannel): Promise<void> {
    const lane: Lane = { channel, open: true, unsettled: 0 }
    channel.once('close', () => {
      lane.open = false
    })
    this.lane = lane
    this.lastProgressAt = this.options.clock.now()
    await channel.prefetch(this.options.prefetch)
    const { consumerTag } = await channel.consume(
      this.options.names.queue,
      (msg) => {
        if (!msg) {
          this.options.logger.warn({ consumer: this.name }, 'the broker cancelled the consumer')
          if (lane.open) this.options.onCancelled()
          return
        }
        const work = this.onDelivery(msg, lane)
        this.inFlight.add(work)
        work.finally(() => this.inFlight.delete(work))
      },
      { noAck: false },
    )
    lane.consumerTag = consumerTag
  }

  /** Stops taking deliveries (shutdown); those in flight still settle. */
  async stop(): Promise<void> {
    const lane = this.lane
    if (lane?.open && lane.consumerTag) await lane.channel.cancel(lane.consumerTag)
  }

  /** Resolves when every delivery taken so far has been handled (and settled, if it could be). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  /**
   * Unsettled deliveries on the current channel, and the last sign of progress: a settle, the
   * first delivery after being idle, or the start on this channel.
   */
  progress(): ConsumerProgress {
    const lane = this.lane
    const unsettled = lane?.open ? lane.unsettled : 0
    return {
      consumer: this.name,
      unsettled,
      lastProgressAt: this.lastProgressAt,
      waiting: this.waiting,
      waitingLooks: this.waitingLooks,
    }
  }

  /**
   * The broker's side of an idle consumer: messages ready in its queue while none is delivered
   * to it means the broker counts its prefetch as full, with acks it never received. The process
   * cannot see that from its own deliveries (it thinks it settled them all), so the bus asks the
   * broker on its stall timer. A message may be ready for a moment before its delivery: what
   * counts is the number of looks in a row that found messages ready.
   */
  async lookAtQueue(): Promise<void> {
    const lane = this.lane
    if (!lane?.open || lane.unsettled > 0) {
      this.waitingLooks = 0
      return
    }
    const { messageCount } = await lane.channel.checkQueue(this.options.names.queue)
    if (lane !== this.lane || lane.unsettled > 0) return
    this.waiting = messageCount
    this.waitingLooks = messageCount > 0 ? this.waitingLooks + 1 : 0
  }

  private async onDelivery(msg: ConsumeMessage, lane: Lane): Promise<void> {
    // Busy again after being idle: the wait for progress starts now.
    if (lane.unsettled++ === 0) this.lastProgressAt = this.options.clock.now()
    this.waitingLooks = 0
    try {
      const decision = await this.decide(msg)
      if (await this.settle(msg, lane, decision)) {
        if (lane === this.lane) this.lastProgressAt = this.options.clock.now()
        this.options.onProcessed?.(decision.outcome, decision.event)
      }
    } finally {
      lane.unsettled--
    }
  }

  /**
   * Moves the message on (confirmed) if it must, then acks it, all on the channel it came on.
   * If that channel has closed nothing is sent: the broker redelivers the message and the inbox
   * absorbs the copy. Returns whether the delivery was settled.
   */
  private async settle(msg: ConsumeMessage, lane: Lane, decision: Decision): Promise<boolean> {
    const { logger } = this.options
    const { moveTo } = decision
    if (!lane.open) return false
    try {
      if (moveTo) {
        await confirmed(
          (done) => lane.channel.sendToQueue(moveTo.queue, msg.content, moveTo.properties, done),
          MOVE_CONFIRM_MS,
        )
      }
      lane.channel.ack(msg)
    } catch (err) {
      if (!lane.open) return false
      // The move was not confirmed: requeue the original, which is then handled again.
      logger.warn({ err, consumer: this.name }, 'could not move a message on; requeued it')
      try {
        lane.channel.nack(msg, false, true)
      } catch {
        return false
      }
      return true
    }
    logger.debug(
      { consumer: this.name, outcome: decision.outcome, message_id: msg.properties.messageId },
      'event processed',
    )
    return true
  }

  /** Parses, validates and handles the message; says what to do with it. */
  private async decide(msg: ConsumeMessage): Promise<Decision> {
    const { logger, db, clock, names } = this.options
    const consumer = this.name
    let event: Envelope
    let handler: AnyHandler | undefined
    try {
      event = parseEnvelope(JSON.parse(msg.content.toString('utf8')))
      handler = this.options.handlers[event.type]
      if (!handler) throw new ContractError(`${consumer} does not handle ${event.type}`)
    } catch (err) {
      logger.error({ err, consumer }, 'invalid message: dead-lettered without retry')
      return { outcome: 'dead-lettered', moveTo: deadLetter(msg, err, names, clock) }
    }
    const handle = handler
    return withCorrelation(event.correlation_id, async () => {
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
                .values({ consumer, event_id: event.id, handled_at: clock.now() })
                .execute()
            } catch (err) {
              if (isDuplicateKey(err)) return false
              throw err
            }
            await handle(event, trx as Transaction<unknown>)
            return true
          },
          consumerTransaction,
        )
        if (!fresh) log.info('duplicate delivery ignored')
        return { outcome: fresh ? 'handled' : 'duplicate', event }
      } catch (err) {
        const moveTo = retryOrDeadLetter(msg, err, names, clock, log)
        return { outcome: moveTo.outcome, moveTo, event }
      }
    })
  }
}
