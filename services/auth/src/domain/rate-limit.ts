// Fixed-window counters per account and per client address: for the reset-code endpoints, for
// password checks per address, and for signups per address. (Password guesses per account have
// their own policy, in throttle.ts.) In memory: one instance's view, which bounds a guesser well
// enough together with the 5-try death of a reset code; several instances each allow the
// configured rate.
import type { Clock } from '@tms/clock'
import { TooManyAttemptsError } from './errors.ts'

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
    const window = this.current(key)
    window.hits++
    return window.hits <= this.options.max ? 0 : this.secondsLeft(window)
  }

  private current(key: string): Window {
    const now = this.options.clock.now().getTime()
    this.sweep(now)
    let window = this.windows.get(key)
    if (!window || now - window.startedAt >= this.options.windowMs) {
      window = { startedAt: now, hits: 0 }
      this.windows.set(key, window)
    }
    return window
  }

  private secondsLeft(window: Window): number {
    const now = this.options.clock.now().getTime()
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
  signupPerAddress: RateLimiter
}

/** Throws TooManyAttemptsError when the action is over either limit; every attempt counts. */
export function enforceRateLimits(
  limits: RateLimits,
  action: string,
  account: string,
  address: string,
): void {
  tooMany(
    Math.max(
      limits.perAddress.hit(`${action}:${address}`),
      limits.perAccount.hit(`${action}:${account.toLowerCase()}`),
    ),
  )
}

/** Throws TooManyAttemptsError when the address is over the limiter's rate; counts a hit. */
export function enforceAddressLimit(limiter: RateLimiter, action: string, address: string): void {
  tooMany(limiter.hit(`${action}:${address}`))
}

function tooMany(wait: number) {
  if (wait > 0) throw new TooManyAttemptsError(wait)
}
