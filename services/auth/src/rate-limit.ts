// Fixed-window counters for the guessable endpoints (login, reset codes), per account and per
// client address. In memory: one instance's view, which bounds a guesser well enough together
// with the 5-try death of a reset code; several instances each allow the configured rate.
import { httpError } from '@tms/http'
import type { Clock } from './clock.ts'

export interface RateLimitOptions {
  max: number
  windowMs: number
  clock: Clock
}

interface Window {
  startedAt: number
  hits: number
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>()
  private readonly options: RateLimitOptions
  private lastSweep = 0

  constructor(options: RateLimitOptions) {
    this.options = options
  }

  /** Counts a hit; returns the seconds to wait when over the limit, else 0. */
  hit(key: string): number {
    const now = this.options.clock.now().getTime()
    this.sweep(now)
    let window = this.windows.get(key)
    if (!window || now - window.startedAt >= this.options.windowMs) {
      window = { startedAt: now, hits: 0 }
      this.windows.set(key, window)
    }
    window.hits++
    if (window.hits <= this.options.max) return 0
    return Math.max(1, Math.ceil((window.startedAt + this.options.windowMs - now) / 1000))
  }

  /** Forgets windows that ended, so the map does not grow without bound. */
  private sweep(now: number) {
    if (now - this.lastSweep < this.options.windowMs) return
    this.lastSweep = now
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= this.options.windowMs) this.windows.delete(key)
    }
  }
}

export interface RateLimits {
  perAccount: RateLimiter
  perAddress: RateLimiter
}

/** Throws a 429 with Retry-After when the action is over either limit. */
export function enforceRateLimits(
  limits: RateLimits,
  action: string,
  account: string,
  address: string,
): void {
  const wait = Math.max(
    limits.perAddress.hit(`${action}:${address}`),
    limits.perAccount.hit(`${action}:${account.toLowerCase()}`),
  )
  if (wait > 0) {
    throw httpError(429, `too many attempts; try again in ${wait} seconds`, {
      headers: { 'retry-after': String(wait) },
    })
  }
}
