// The whole system for one test: every service and the gateway as real processes (@tms/system)
// on free loopback ports, each service with databases of its own and all on a broker prefix of
// the test's own, optionally several replicas of a service and each process's broker link
// through a TCP proxy the test can cut. The test reaches it through the gateway's URL only;
// reading a service's database is for checking invariants at the end.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { deleteTopology } from '@tms/bus'
import { createDb, dropDatabase, type Kysely } from '@tms/db'
import { type LogLine, type PartName, parts, ServiceProcess } from '@tms/system'
import {
  amqpServerUrl,
  mysqlServerUrl,
  startTcpProxy,
  type TcpProxy,
  type TestContext,
} from '@tms/testing'

const root = path.resolve(import.meta.dirname, '../..')

export type ServiceName = Exclude<PartName, 'gateway'>

/** The databases each service is given (the wallet's is named `wallet` in production). */
const databaseOf: Record<ServiceName, string> = {
  auth: 'auth',
  'user-wallet': 'wallet',
  academic: 'academic',
}

export const admin = {
  username: 'e2e_admin',
  email: 'e2e-admin@example.com',
  password: 'e2e-admin-password',
}

/** Short retry delays: an event waiting for an earlier one comes back within seconds. */
const retryDelaysMs = [200, 500, 1000, 2000, 4000, 8000, 15000]

export interface SystemOptions {
  /** Processes per service (default 1); the gateway spreads requests across them. */
  replicas?: Partial<Record<ServiceName, number>>
  /** Each service process reaches the broker through a TCP proxy of its own, to cut. */
  brokerProxies?: boolean
  /** The platform's fee in basis points (default 1000: 10 %). */
  platformFeeBps?: number
  /** More environment for every process. */
  env?: Record<string, string>
}

export interface RunningSystem {
  /** The one URL a client knows. */
  url: string
  processes: ServiceProcess[]
  /** A process by its name: `auth`, `user-wallet`, `user-wallet#2`, `gateway`, … */
  process(name: string): ServiceProcess
  /** The broker link of a process (with `brokerProxies`). */
  brokerProxy(name: string): TcpProxy
  /** A service's database, for checking invariants (never for driving the test). */
  db<DB>(service: ServiceName): Kysely<DB>
  /** Every log line so far, for a failing test to show. */
  logs: LogLine[]
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startSystem(
  t: TestContext & { passing?: () => boolean },
  options: SystemOptions = {},
): Promise<RunningSystem> {
  const id = `e2e_${process.pid}_${randomBytes(3).toString('hex')}`
  const mysql = (await mysqlServerUrl()).replace(/\/$/, '')
  const amqp = await amqpServerUrl()
  const prefix = `${id}.`
  const dataDir = await mkdtemp(path.join(tmpdir(), `${id}-`))
  const logs: LogLine[] = []
  const processes: ServiceProcess[] = []
  const proxies = new Map<string, TcpProxy>()
  const dbs = new Map<ServiceName, Kysely<unknown>>()
  const dbUrl = (service: ServiceName) => `${mysql}/${id}_${databaseOf[service]}`

  t.teardown(async () => {
    await Promise.all(processes.map((p) => p.stop(10_000)))
    for (const db of dbs.values()) await db.destroy()
    for (const proxy of proxies.values()) await proxy.close()
    for (const service of Object.keys(databaseOf) as ServiceName[]) {
      await dropDatabase(dbUrl(service))
    }
    await deleteTopology({ url: amqp, prefix, retryDelaysMs })
    await rm(dataDir, { recursive: true, force: true })
    if (t.passing && !t.passing() && process.env.E2E_LOGS !== '0') {
      process.stderr.write(`--- the system's last log lines (${id}) ---\n`)
      for (const line of logs.slice(-200)) process.stderr.write(`${JSON.stringify(line)}\n`)
    }
  })

  const common: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
    BUS_PREFIX: prefix,
    BUS_RETRY_DELAYS_MS: retryDelaysMs.join(','),
    JWT_ISSUER: 'tms-e2e',
    ...options.env,
  }
  const ports = new Map<ServiceName, number[]>()
  const ordered: ServiceName[] = ['auth', 'user-wallet', 'academic']
  for (const service of ordered) {
    const count = options.replicas?.[service] ?? 1
    ports.set(service, await Promise.all(Array.from({ length: count }, freePort)))
  }
  const authUrl = `http://127.0.0.1:${ports.get('auth')?.[0]}`
  const jwksUrl = `${authUrl}/auth/.well-known/jwks.json`
  const own: Record<ServiceName, Record<string, string>> = {
    auth: {
      ADMIN_USERNAME: admin.username,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      // Cheap hashing: the tests log in often; production's minimum is checked in production.
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_PASSES: '1',
    },
    'user-wallet': { JWKS_URL: jwksUrl, CURRENCY: 'usd' },
    academic: {
      JWKS_URL: jwksUrl,
      CURRENCY: 'usd',
      PLATFORM_FEE_BPS: String(options.platformFeeBps ?? 1000),
    },
  }

  for (const service of ordered) {
    for (const [i, port] of (ports.get(service) ?? []).entries()) {
      const name = i === 0 ? service : `${service}#${i + 1}`
      let amqpUrl = amqp
      if (options.brokerProxies) {
        const target = new URL(amqp)
        const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672))
        proxies.set(name, proxy)
        amqpUrl = proxy.url(amqp)
      }
      processes.push(
        new ServiceProcess({
          root,
          part: parts[service],
          name,
          port,
          env: {
            ...common,
            ...own[service],
            DATABASE_URL: dbUrl(service),
            AMQP_URL: amqpUrl,
            METRICS_PORT: String(await freePort()),
            DATA_DIR: path.join(dataDir, service),
          },
          onLine: (line) => logs.push(line),
        }),
      )
    }
  }
  const gatewayPort = await freePort()
  const upstreams = (service: ServiceName) =>
    (ports.get(service) ?? []).map((p) => `http://127.0.0.1:${p}`).join(',')
  const gateway = new ServiceProcess({
    root,
    part: parts.gateway,
    port: gatewayPort,
    env: {
      ...common,
      AUTH_UPSTREAMS: upstreams('auth'),
      USER_UPSTREAMS: upstreams('user-wallet'),
      ACADEMIC_UPSTREAMS: upstreams('academic'),
      NOTIFICATIONS_UPSTREAMS: 'none',
      JWKS_URL: jwksUrl,
      METRICS_PORT: String(await freePort()),
      HEALTH_PROBE_MS: '500',
      UPSTREAM_DOWN_MS: '1000',
      // One test client makes many requests from one address.
      RATE_LIMIT_MAX: '100000',
      RATE_LIMIT_AUTH_MAX: '100000',
    },
    onLine: (line) => logs.push(line),
  })
  processes.push(gateway)

  // Migrations of one database by two replicas at once would race: the first of each
  // service starts alone, then the rest.
  const firsts = processes.filter((p) => !p.name.includes('#') && p !== gateway)
  for (const p of firsts) p.start()
  await Promise.all(firsts.map((p) => p.waitReady(90_000)))
  const rest = processes.filter((p) => !firsts.includes(p))
  for (const p of rest) p.start()
  await Promise.all(rest.map((p) => p.waitReady(90_000)))

  return {
    url: gateway.url,
    processes,
    logs,
    process(name) {
      const found = processes.find((p) => p.name === name)
      if (!found) throw new Error(`no process ${name}`)
      return found
    },
    brokerProxy(name) {
      const proxy = proxies.get(name)
      if (!proxy) throw new Error(`no broker proxy for ${name} (start with brokerProxies)`)
      return proxy
    },
    db<DB>(service: ServiceName) {
      let db = dbs.get(service)
      if (!db) {
        db = createDb<unknown>(dbUrl(service), { poolSize: 2 })
        dbs.set(service, db)
      }
      return db as Kysely<DB>
    },
  }
}
