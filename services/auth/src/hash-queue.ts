// A bound on password hashing, the one expensive thing a client can ask for without an account
// (argon2id: tens of milliseconds of CPU and 19 MiB each). At most `concurrency` hashes run at
// once and at most `maxQueued` wait; beyond that a request is refused at once (HashingBusyError,
// a 503 with Retry-After), so a flood costs bounded CPU, memory and waiting time, and a normal
// login behind it waits at most for the queue to drain, never for the whole flood.
import { availableParallelism } from 'node:os'
import { HashingBusyError } from './domain/errors.ts'
import type { PasswordChecker } from './domain/password.ts'

export interface HashQueueOptions {
  concurrency: number
  maxQueued: number
}

/**
 * One hash per core, but at most one less than libuv's thread pool (4 unless
 * UV_THREADPOOL_SIZE says otherwise), where crypto.argon2 runs: the rest of the pool stays
 * free for the DNS lookups and file work that share it.
 */
export function defaultHashConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4
  return Math.max(1, Math.min(availableParallelism(), pool - 1))
}

export class HashQueue {
  private readonly options: HashQueueOptions
  private readonly waiting: (() => void)[] = []
  private active = 0
  /** The most that ever ran and waited at once, and how many were refused: for tests and ops. */
  readonly stats = { peakRunning: 0, peakQueued: 0, refused: 0 }

  constructor(options: HashQueueOptions) {
    this.options = options
  }

  get running(): number {
    return this.active
  }

  get queued(): number {
    return this.waiting.length
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.options.concurrency) {
      this.active++
    } else if (this.waiting.length < this.options.maxQueued) {
      // Resolved by a finishing task, which hands its place over (`active` stays as it is).
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve)
        this.stats.peakQueued = Math.max(this.stats.peakQueued, this.waiting.length)
      })
    } else {
      this.stats.refused++
      throw new HashingBusyError()
    }
    this.stats.peakRunning = Math.max(this.stats.peakRunning, this.active)
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.active--
    }
  }
}

/** The checker with every hash and verification going through the queue. */
export function queuedPasswords(passwords: PasswordChecker, queue: HashQueue): PasswordChecker {
  return {
    ...passwords,
    hash: (password) => queue.run(() => passwords.hash(password)),
    check: (password, phc) => queue.run(() => passwords.check(password, phc)),
  }
}
