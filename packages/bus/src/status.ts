// What the bus says about itself: whether the broker link is up, and per consumer how many
// deliveries are unsettled and when it last made progress. A consumer with unsettled deliveries
// and no progress for stallAfterMs while connected is stalled: logged once when it becomes so,
// once when it recovers, and it fails the service's readiness.
import type { Clock } from '@tms/clock'
import type { Logger } from '@tms/logging'

export interface ConsumerStatus {
  consumer: string
  /** Deliveries taken on the current channel and not yet settled. */
  unsettled: number
  /** The last settle, the first delivery after being idle, or the start on this channel. */
  lastProgressAt: Date | undefined
  stalled: boolean
}

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
  observe(connected: boolean, progress: Omit<ConsumerStatus, 'stalled'>[]): ConsumerStatus[] {
    const now = this.clock.now()
    return progress.map((p) => {
      const idleMs = p.lastProgressAt ? now.getTime() - p.lastProgressAt.getTime() : 0
      const stalled = connected && p.unsettled > 0 && idleMs >= this.stallAfterMs
      const since = this.stalledSince.get(p.consumer)
      if (stalled && !since) {
        this.stalledSince.set(p.consumer, now)
        this.logger.error(
          { consumer: p.consumer, unsettled: p.unsettled, no_progress_ms: idleMs },
          'consumer stalled: deliveries unsettled and no progress',
        )
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
      const which = stalled.map((c) => `${c.consumer} (${c.unsettled} unsettled)`).join(', ')
      throw new Error(`stalled consumer: ${which}`)
    }
    return status.connected ? 'connected' : 'disconnected'
  }
}
