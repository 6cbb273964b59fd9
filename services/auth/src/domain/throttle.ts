// The per-account limit on password guesses (login, and the current password of a password or
// email change). The policy, precisely (also in the README):
//
// - Attempts are counted per account, whichever name it is reached by (username and email of
//   one account share one count; a login that matches no account is counted under the login
//   as typed, normalised), and an attempt is counted *before* its password is hashed: it
//   reserves a place, which a right password gives back (it is not a failure) and a wrong one
//   turns into a failure. So N attempts at once cost N, and at most the limit get through.
// - The first RATE_LIMIT_PER_ACCOUNT failures cost nothing. After that the account slows down
//   instead of locking: the next attempt is taken only LOGIN_DELAY_BASE_MS after the last
//   failure, the delay doubling with each further failure up to LOGIN_DELAY_MAX_MS, and while
//   slowed one attempt at a time. Earlier attempts are answered 429 with Retry-After.
// - An address that has not tried this account without success in the last
//   RATE_LIMIT_WINDOW_MS (typically the owner's, while someone else guesses from theirs) is
//   not held by those failures: it has a second allowance of its own, shared by every such
//   address, with the same free failures and delays. So one guesser cannot lock the owner
//   out; many guessers on many addresses can slow the owner down, never lock them out.
// - Failures are forgotten RATE_LIMIT_WINDOW_MS after the delay they caused has passed.
//
// In memory, as the other limits: each instance keeps its own counts.
import type { Clock } from '@tms/clock'
import { TooManyAttemptsError } from './errors.ts'

export interface ThrottleOptions {
  /** Failures an allowance takes before it slows down. */
  freeFailures: number
  /** The delay after the first failure beyond the free ones; it doubles with each failure. */
  baseDelayMs: number
  maxDelayMs: number
  /** How long an address counts as having tried, and failures are remembered. */
  windowMs: number
  clock: Clock
}

/** One allowance of an account: its failures and the attempts now being checked. */
interface Allowance {
  failures: number
  inFlight: number
  /** Not before then (after a failure beyond the free ones). */
  nextAttemptAt: number
}

interface AccountState {
  /** Every attempt, unless its address is a fresh one and this is held up. */
  shared: Allowance
  /** Attempts from addresses that have not tried this account recently. */
  fresh: Allowance
  /** Addresses that tried recently without success, and until when they count. */
  triedFrom: Map<string, number>
}

/** The outcome of one reserved attempt; exactly one of these is called. */
export interface Attempt {
  /** The password was right: the reservation is given back, nothing is counted. */
  succeeded(): void
  /** The password was wrong: counted as a failure. */
  failed(): void
  /** The check did not happen (the hashing queue was full, the database failed). */
  abandoned(): void
}

/** Beyond this many addresses, an account's list stops growing (they use the shared one). */
const MAX_ADDRESSES_PER_ACCOUNT = 1000

export class AccountThrottle {
  private readonly accounts = new Map<string, AccountState>()
  private readonly options: ThrottleOptions
  private lastSweep = 0

  constructor(options: ThrottleOptions) {
    this.options = options
  }

  /** Reserves an attempt on the account from the address, or throws TooManyAttemptsError. */
  reserve(account: string, address: string): Attempt {
    const now = this.options.clock.now().getTime()
    this.sweep(now)
    const state = this.state(account, now)
    const triedRecently = (state.triedFrom.get(address) ?? 0) > now
    let allowance: Allowance
    if (this.allows(state.shared, now)) allowance = state.shared
    else if (!triedRecently && this.allows(state.fresh, now)) allowance = state.fresh
    else {
      const waits = [this.waitMs(state.shared, now)]
      if (!triedRecently) waits.push(this.waitMs(state.fresh, now))
      throw new TooManyAttemptsError(Math.max(1, Math.ceil(Math.min(...waits) / 1000)))
    }
    allowance.inFlight++
    if (state.triedFrom.size < MAX_ADDRESSES_PER_ACCOUNT || state.triedFrom.has(address)) {
      state.triedFrom.set(address, now + this.options.windowMs)
    }
    let settled = false
    const settle = (outcome: 'succeeded' | 'failed' | 'abandoned') => {
      if (settled) return
      settled = true
      allowance.inFlight--
      if (outcome === 'succeeded') state.triedFrom.delete(address)
      if (outcome !== 'failed') return
      const at = this.options.clock.now().getTime()
      allowance.failures++
      allowance.nextAttemptAt = at + this.delayMs(allowance.failures)
      state.triedFrom.set(address, at + this.options.windowMs)
    }
    return {
      succeeded: () => settle('succeeded'),
      failed: () => settle('failed'),
      abandoned: () => settle('abandoned'),
    }
  }

  /** The delay after the n-th failure: none for the free ones, then doubling to the cap. */
  delayMs(failures: number): number {
    const beyond = failures - this.options.freeFailures
    if (beyond < 0) return 0
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** beyond)
  }

  private allows(allowance: Allowance, now: number): boolean {
    if (allowance.failures + allowance.inFlight < this.options.freeFailures) return true
    // Slowed down: one attempt at a time, once the delay has passed.
    return allowance.inFlight === 0 && now >= allowance.nextAttemptAt
  }

  private waitMs(allowance: Allowance, now: number): number {
    return Math.max(0, allowance.nextAttemptAt - now)
  }

  private state(account: string, now: number): AccountState {
    let state = this.accounts.get(account)
    if (!state) {
      state = {
        shared: { failures: 0, inFlight: 0, nextAttemptAt: 0 },
        fresh: { failures: 0, inFlight: 0, nextAttemptAt: 0 },
        triedFrom: new Map(),
      }
      this.accounts.set(account, state)
    }
    this.forget(state, now)
    return state
  }

  /** Forgets failures whose delay ended a window ago, and addresses whose time is up. */
  private forget(state: AccountState, now: number) {
    for (const allowance of [state.shared, state.fresh]) {
      if (allowance.failures > 0 && now >= allowance.nextAttemptAt + this.options.windowMs) {
        allowance.failures = 0
        allowance.nextAttemptAt = 0
      }
    }
    for (const [address, until] of state.triedFrom) {
      if (until <= now) state.triedFrom.delete(address)
    }
  }

  /** Drops accounts with nothing left to remember, so the map does not grow without bound. */
  private sweep(now: number) {
    if (now - this.lastSweep < this.options.windowMs) return
    this.lastSweep = now
    for (const [account, state] of this.accounts) {
      this.forget(state, now)
      const idle = [state.shared, state.fresh].every((a) => a.failures === 0 && a.inFlight === 0)
      if (idle && state.triedFrom.size === 0) this.accounts.delete(account)
    }
  }
}
