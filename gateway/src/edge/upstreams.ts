// A service behind the gateway as a list of replicas, each with its own pool of kept-alive
// connections (undici), spread round robin. A replica is skipped while it is down:
// - passively: a refused or timed-out connection marks it down for `downMs`;
// - actively: every `probeMs` its /health/ready is asked, and a replica that does not answer
//   200 stays out of the rotation until it does.
// When every replica is out, requests still go round robin over all of them (one may be back;
// a dead one refuses at once, which answers 503), so the gateway never refuses on a guess.
// A service with no address at all is not deployed (the notifications service, say, until it
// exists): its routes answer 503 and /health lists it without failing.
import type { Clock } from '@tms/clock'
import { Dispatcher, Pool } from 'undici'

export interface UpstreamOptions {
  clock: Clock
  /** Kept-alive connections per replica. */
  connections: number
  /** Requests in flight on one connection (HTTP/1.1 pipelining; 1 = none). */
  pipelining: number
  connectTimeoutMs: number
  /** No answer headers by then: the request fails (504). */
  headersTimeoutMs: number
  /** No body bytes for this long: the request fails. */
  bodyTimeoutMs: number
  /** How long a replica that refused a connection is skipped. */
  downMs: number
  /** How often to ask each replica's /health/ready; 0 = never. */
  probeMs: number
  /** Told when a replica goes in or out of the rotation. */
  onChange?: (replica: Replica, why: string) => void
}

export interface Replica {
  readonly origin: string
  readonly pool: Pool
  /** Up to this time (ms since the epoch) the replica is skipped: it refused a connection. */
  downUntil: number
  /** The last readiness probe's verdict (true until a probe says otherwise). */
  ready: boolean
}

export class Upstream extends Dispatcher {
  readonly name: string
  readonly replicas: readonly Replica[]
  private readonly options: UpstreamOptions
  private next = 0
  private probeTimer: NodeJS.Timeout | undefined

  constructor(name: string, origins: readonly string[], options: UpstreamOptions) {
    super()
    this.name = name
    this.options = options
    this.replicas = origins.map((origin) => {
      const pool = new Pool(origin, {
        connections: options.connections,
        pipelining: options.pipelining,
        connectTimeout: options.connectTimeoutMs,
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.bodyTimeoutMs,
        keepAliveTimeout: 30_000,
        keepAliveTimeoutThreshold: 1000,
      })
      const replica: Replica = { origin, pool, downUntil: 0, ready: true }
      // Emitted before the failed request's callback runs, so a retry already skips it.
      pool.on('connectionError', (_origin, _clients, err) => {
        if (replica.downUntil <= this.now()) this.options.onChange?.(replica, `down: ${err.code}`)
        replica.downUntil = this.now() + options.downMs
      })
      pool.on('connect', () => {
        replica.downUntil = 0
      })
      return replica
    })
  }

  /** False for a service configured with no address: nothing to send its requests to. */
  get deployed(): boolean {
    return this.replicas.length > 0
  }

  private now(): number {
    return this.options.clock.now().getTime()
  }

  isHealthy(replica: Replica, now = this.now()): boolean {
    return replica.ready && replica.downUntil <= now
  }

  /** The next replica in turn among the healthy ones; among all when none is. */
  pick(): Replica {
    const { replicas } = this
    const count = replicas.length
    const start = this.next
    this.next = (start + 1) % count
    if (count === 1) return replicas[0] as Replica
    const now = this.now()
    for (let i = 0; i < count; i++) {
      const replica = replicas[(start + i) % count] as Replica
      if (this.isHealthy(replica, now)) {
        this.next = (start + i + 1) % count
        return replica
      }
    }
    return replicas[start] as Replica
  }

  /** Any replica answers readiness: for /health. */
  async readiness(timeoutMs: number): Promise<{ origin: string; status: 'ok' | 'down' }[]> {
    return Promise.all(
      this.replicas.map(async (replica) => ({
        origin: replica.origin,
        status: (await this.probe(replica, timeoutMs)) ? ('ok' as const) : ('down' as const),
      })),
    )
  }

  private async probe(replica: Replica, timeoutMs: number): Promise<boolean> {
    try {
      const res = await replica.pool.request({
        method: 'GET',
        path: '/health/ready',
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      await res.body.dump()
      return res.statusCode === 200
    } catch {
      return false
    }
  }

  /** Starts asking each replica's readiness every `probeMs`. */
  startProbing(): void {
    if (this.options.probeMs <= 0 || this.probeTimer) return
    const round = async () => {
      await Promise.all(
        this.replicas.map(async (replica) => {
          const ready = await this.probe(replica, Math.min(this.options.probeMs, 2000))
          if (ready !== replica.ready) {
            this.options.onChange?.(replica, ready ? 'ready' : 'not ready')
          }
          replica.ready = ready
          if (ready) replica.downUntil = 0
        }),
      )
    }
    this.probeTimer = setInterval(() => void round(), this.options.probeMs)
    this.probeTimer.unref()
    void round()
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    // The pool owns the origin; the caller's (the first replica's) is ignored. A zero headers
    // timeout (a stream route asked for no timeouts) still waits for headers only so long.
    const dispatched =
      options.headersTimeout === 0
        ? { ...options, headersTimeout: this.options.headersTimeoutMs }
        : options
    return this.pick().pool.dispatch(dispatched, handler)
  }

  override async close(): Promise<void> {
    clearInterval(this.probeTimer)
    await Promise.all(this.replicas.map((r) => r.pool.close()))
  }

  override async destroy(): Promise<void> {
    clearInterval(this.probeTimer)
    await Promise.all(this.replicas.map((r) => r.pool.destroy()))
  }
}

/** One Upstream per service, from each service's list of replica origins. */
export function createUpstreams<S extends string>(
  origins: Record<S, readonly string[]>,
  options: UpstreamOptions,
): Record<S, Upstream> {
  const entries = Object.entries(origins) as [S, readonly string[]][]
  return Object.fromEntries(
    entries.map(([name, list]) => [name, new Upstream(name, list, options)]),
  ) as Record<S, Upstream>
}
