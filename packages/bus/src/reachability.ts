// What the log says about the broker link: the first failure in full, the next few retries, then
// at most one line a minute with the attempt count, and the recovery once with how long the
// broker was away. Time comes from the bus's Clock.
import type { Clock } from '@tms/clock'
import type { Logger } from '@tms/logging'

export interface ReachabilityOptions {
  /** Retries logged one by one before the rate limit applies. */
  firstRetries?: number
  /** At most one retry line per this many milliseconds after the first few. */
  everyMs?: number
}

export interface LinkState {
  /** When the link went down (or the first attempt failed); undefined while connected. */
  downSince: Date | undefined
  /** Failed connection attempts since then. */
  failedAttempts: number
}

export class Reachability {
  private readonly log: Logger
  private readonly clock: Clock
  private readonly firstRetries: number
  private readonly everyMs: number
  private downSince: Date | undefined
  private failedAttempts = 0
  private lastLineAt = 0

  constructor(log: Logger, clock: Clock, options: ReachabilityOptions = {}) {
    this.log = log
    this.clock = clock
    this.firstRetries = options.firstRetries ?? 3
    this.everyMs = options.everyMs ?? 60_000
  }

  state(): LinkState {
    return {
      downSince: this.downSince,
      failedAttempts: this.failedAttempts,
    }
  }

  /** A connection attempt (or the set-up of its channels and topology) failed. */
  failed(err: unknown, retryInMs: number): void {
    const now = this.clock.now()
    this.downSince ??= now
    this.failedAttempts++
    const downMs = now.getTime() - this.downSince.getTime()
    const attempt = this.failedAttempts
    if (attempt === 1) {
      this.log.error({ err, retry_in_ms: retryInMs }, 'cannot reach the broker; retrying')
    } else if (
      attempt <= this.firstRetries + 1 ||
      now.getTime() - this.lastLineAt >= this.everyMs
    ) {
      this.log.warn(
        { attempt, down_ms: downMs, retry_in_ms: retryInMs, reason: reason(err) },
        'the broker is still unreachable',
      )
    } else {
      return
    }
    this.lastLineAt = now.getTime()
  }

  /** An established connection broke. */
  lost(err: unknown): void {
    this.downSince = this.clock.now()
    this.failedAttempts = 0
    this.lastLineAt = this.downSince.getTime()
    this.log.warn({ reason: reason(err) }, 'lost the connection to the broker; reconnecting')
  }

  /** A connection is up, its channels, topology and consumers set up. */
  connected(): void {
    if (this.downSince) {
      const downMs = this.clock.now().getTime() - this.downSince.getTime()
      this.log.info(
        { down_ms: downMs, failed_attempts: this.failedAttempts },
        'the broker is reachable again',
      )
    } else {
      this.log.info('connected to the broker')
    }
    this.downSince = undefined
    this.failedAttempts = 0
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
