// The bus's own link to the broker, on amqplib: one connection with a heartbeat and two confirm
// channels (a session). When the connection or either channel closes the session is over, and a
// new one is made with back-off, forever until close(); `onSession` declares the topology and
// starts the consumers on each new session. Nothing of an old session is reused: a delivery is
// settled on the channel it came on or not at all.
import type { Clock } from '@tms/clock'
import type { Logger } from '@tms/logging'
import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib'
import { type LinkState, Reachability } from './reachability.ts'

export interface Session {
  connection: ChannelModel
  /** The relay's channel. */
  publishing: ConfirmChannel
  /** The consumers' channel: deliveries, their confirmed moves to other queues, their acks. */
  consuming: ConfirmChannel
  /** Resolves, with the reason, once the connection or either channel has closed. */
  closed: Promise<unknown>
}

export interface LinkOptions {
  url: string
  /** The connection's name in the broker's management tools. */
  name: string
  logger: Logger
  clock: Clock
  /** The first delay before a new attempt; it doubles per failed attempt up to reconnectMaxMs. */
  reconnectMs: number
  reconnectMaxMs: number
  /** A dead peer is noticed after about two missed heartbeats. */
  heartbeatSeconds: number
  /** Sets up a new session; a throw ends the session and counts as a failed attempt. */
  onSession(session: Session): Promise<void>
}

/** How long a connection attempt may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000

export class BrokerLink {
  private readonly options: LinkOptions
  private readonly reachability: Reachability
  private session: Session | undefined
  private closing = false
  private loop: Promise<void> | undefined
  private readonly started: Promise<void>
  private markStarted: () => void = () => {}
  private wakeUp: (() => void) | undefined

  constructor(options: LinkOptions) {
    this.options = options
    this.reachability = new Reachability(options.logger, options.clock)
    this.started = new Promise((resolve) => {
      this.markStarted = resolve
    })
  }

  /** Starts connecting; resolves once the first session is set up (or the link is closed). */
  start(): Promise<void> {
    this.loop ??= this.run()
    return this.started
  }

  /** The session that is up and set up; undefined while (re)connecting. */
  get current(): Session | undefined {
    return this.session
  }

  state(): LinkState & { connected: boolean } {
    return { connected: this.session !== undefined, ...this.reachability.state() }
  }

  /** Ends the current session; a new one is made as after any other loss. */
  restart(): void {
    this.session?.connection.close().catch(() => {})
  }

  async close(): Promise<void> {
    this.closing = true
    this.wakeUp?.()
    const session = this.session
    if (session) await withTimeout(session.connection.close(), 5000).catch(() => {})
    // A connection attempt in progress ends by its own timeout and is then closed by the loop.
    await withTimeout(this.loop ?? Promise.resolve(), 5000).catch(() => {})
    this.markStarted()
  }

  private async run(): Promise<void> {
    let attempt = 0
    while (!this.closing) {
      attempt++
      let session: Session | undefined
      try {
        session = await this.open()
        if (!this.closing) await this.options.onSession(session)
      } catch (err) {
        session?.connection.close().catch(() => {})
        if (this.closing) break
        const delay = this.delay(attempt)
        this.reachability.failed(err, delay)
        await this.pause(delay)
        continue
      }
      if (this.closing) {
        await session.connection.close().catch(() => {})
        break
      }
      this.session = session
      this.reachability.connected()
      this.markStarted()
      attempt = 0
      const why = await session.closed
      this.session = undefined
      if (this.closing) break
      this.reachability.lost(why)
      await this.pause(this.options.reconnectMs)
    }
  }

  private async open(): Promise<Session> {
    const url = new URL(this.options.url)
    if (!url.searchParams.has('heartbeat')) {
      url.searchParams.set('heartbeat', String(this.options.heartbeatSeconds))
    }
    const connection = await amqplib.connect(url.toString(), {
      timeout: CONNECT_TIMEOUT_MS,
      // amqplib leaves Nagle's algorithm on: a publish is several small frames, and the later
      // ones waited for the broker's delayed ACK of the first (about 40 ms a message).
      noDelay: true,
      clientProperties: { connection_name: this.options.name },
    })
    const log = this.options.logger
    let end: (why: unknown) => void = () => {}
    const closed = new Promise<unknown>((resolve) => {
      end = resolve
    })
    // 'error' is followed by 'close', which ends the session; without a listener it would throw.
    connection.on('error', () => {})
    connection.on('close', (err) => end(err ?? new Error('connection closed')))
    connection.on('blocked', (reason) => log.warn({ reason }, 'the broker blocks publishing'))
    connection.on('unblocked', () => log.info('the broker accepts publishing again'))
    try {
      const publishing = await connection.createConfirmChannel()
      const consuming = await connection.createConfirmChannel()
      for (const [name, channel] of [
        ['publishing', publishing],
        ['consuming', consuming],
      ] as const) {
        let error: unknown
        channel.on('error', (err) => {
          error = err
        })
        channel.on('close', () => {
          end(error ?? new Error(`the ${name} channel closed`))
          // A session is all or nothing: a lone channel is not re-made, the connection is.
          connection.close().catch(() => {})
        })
      }
      return { connection, publishing, consuming, closed }
    } catch (err) {
      connection.close().catch(() => {})
      throw err
    }
  }

  private delay(attempt: number): number {
    const { reconnectMs, reconnectMaxMs } = this.options
    const base = Math.min(reconnectMs * 2 ** (attempt - 1), Math.max(reconnectMs, reconnectMaxMs))
    // ±20 %, so replicas that lost the broker together do not come back in lockstep.
    return Math.round(base * (0.8 + Math.random() * 0.4))
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wakeUp = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wakeUp = done
    })
  }
}

/**
 * Sends on a confirm channel and resolves once the broker has confirmed it; rejects when the
 * broker refuses it, the channel closes first, or no confirm comes within timeoutMs.
 */
export function confirmed(
  send: (callback: (err: unknown) => void) => void,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no confirm within ${timeoutMs} ms`)),
      timeoutMs,
    )
    try {
      send((err) => {
        clearTimeout(timer)
        if (err) reject(err instanceof Error ? err : new Error(String(err)))
        else resolve()
      })
    } catch (err) {
      clearTimeout(timer)
      reject(err)
    }
  })
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
