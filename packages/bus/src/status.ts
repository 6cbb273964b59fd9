// What the bus says about itself: whether the broker link is up, and per consumer how many
// deliveries are unsettled and when it last made progress. A consumer with no progress for
// stallAfterMs while connected is stalled if it holds unsettled deliveries, or if it holds none
// while messages wait in its queue (the broker delivers it nothing: acks it never received fill
// its prefetch). Logged once when it becomes so, once when it recovers; it fails readiness.
import type { Clock } from '@tms/clock'
import type { Logger } from '@tms/logging'

export interface ConsumerStatus {
  consumer: string
  /** Deliveries taken on the current channel and not yet settled. */
  unsettled: number
  /** The last settle, the first delivery after being idle, or the start on this channel. */
  lastProgressAt: Date | undefined
  /** Messages ready in its queue at the bus's last look while it was idle (see lookAtQueue). */
  waiting: number | undefined
  stalled: boolean
}

/** What a consumer reports to the watch (ConsumerStatus without the verdict). */
export type ConsumerProgress = Omit<ConsumerStatus, 'stalled'> & {
  /** Looks in a row that found messages ready while it was idle. */
  waitingLooks: number
}

/** Looks in a row (a few seconds apart) that must find messages ready to call a consumer starved. */
const WAITING_LOOKS = 2

export interface BusStatus {
  connected: boolean
  /** When the broker link went down; undefined while connected. */
  downSince: Date | undefined
  failedAttempts: number
  consumers: ConsumerStatus[]
}

export class StallWatch {
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly stallAfterMs: number
  private readonly stalledSince = new Map<string, Date>()

  constructor(options: { logger: Logger; clock: Clock; stallAfterMs: number }) {
    this.logger = options.logger
    this.clock = options.clock
    this.stallAfterMs = options.stallAfterMs
  }

  /** The consumers' status now; logs each change between stalled and not stalled once. */
  observe(connected: boolean, progress: ConsumerProgress[]): ConsumerStatus[] {
    const now = this.clock.now()
    return progress.map(({ waitingLooks, ...p }) => {
      const idleMs = p.lastProgressAt ? now.getTime() - p.lastProgressAt.getTime() : 0
      const stuck = p.unsettled > 0
      // Nothing to handle while messages wait in its queue: the broker delivers it nothing.
      const starved = !stuck && waitingLooks >= WAITING_LOOKS
      const stalled = connected && (stuck || starved) && idleMs >= this.stallAfterMs
      const since = this.stalledSince.get(p.consumer)
      if (stalled && !since) {
        this.stalledSince.set(p.consumer, now)
        if (stuck) {
          this.logger.error(
            { consumer: p.consumer, unsettled: p.unsettled, no_progress_ms: idleMs },
            'consumer stalled: deliveries unsettled and no progress',
          )
        } else {
          this.logger.error(
            { consumer: p.consumer, waiting: p.waiting, no_progress_ms: idleMs },
            'consumer stalled: messages wait in its queue and none is delivered',
          )
        }
      } else if (!stalled && since) {
        this.stalledSince.delete(p.consumer)
        this.logger.info(
          { consumer: p.consumer, stalled_ms: now.getTime() - since.getTime(), connected },
          'consumer no longer stalled',
        )
      }
      return { ...p, stalled }
    })
  }
}

/**
 * The readiness check of a service's bus, for `/health/ready`: it fails only when a consumer is
 * stalled. A broker outage does not fail it, since the outbox keeps what the service writes and
 * the consumers resume when the link is back; its result says whether the broker is connected.
 */
export function busReadiness(bus: {
  status(): BusStatus
}): () => Promise<'connected' | 'disconnected'> {
  return async () => {
    const status = bus.status()
    const stalled = status.consumers.filter((c) => c.stalled)
    if (stalled.length > 0) {
      const which = stalled
        .map((c) =>
          c.unsettled > 0
            ? `${c.consumer} (${c.unsettled} unsettled)`
            : `${c.consumer} (${c.waiting} waiting, none delivered)`,
        )
        .join(', ')
      throw new Error(`stalled consumer: ${which}`)
    }
    return status.connected ? 'connected' : 'disconnected'
  }
}
