// The gateway in front of the real services, all in this process on ephemeral ports: auth and
// user-wallet built as their tests build them (each with a database of its own), an academic
// stand-in that stores and streams back files and echoes headers (the academic service does
// not exist yet), and hit counters on each, to show what never reached a service.
import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { App } from '@tms/http'
import { startTestService } from '@tms/kit/testing'
import { createLogger, type Logger } from '@tms/logging'
import { TestClock, type TestContext } from '@tms/testing'
import { SignJWT } from 'jose'
import { setup as authSetup, newAccount } from '../../services/auth/test/helpers.ts'
import { wallet } from '../../services/user-wallet/src/main.ts'
import { addUser } from '../../services/user-wallet/test/helpers.ts'
import { type AppSettings, buildApp } from '../src/app.ts'
import { jwksKeySource, type KeySource } from '../src/edge/keys.ts'
import type { Service } from '../src/edge/route-table.ts'
import { createUpstreams, type UpstreamOptions } from '../src/edge/upstreams.ts'

export const silent = createLogger({
  service: 'gateway-test',
  level: process.env.LOG_LEVEL ?? 'silent',
})

/** Listens on an ephemeral loopback port; closed (connections too) when the test ends. */
export async function listen(t: TestContext, server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A Fastify app of a service listening for real, with a count of the requests it saw. */
export interface Running {
  app: App
  url: string
  /** Requests the service saw, but for key fetches (jwksHits) and the gateway's own probes. */
  hits: string[]
  jwksHits: string[]
  /** Stops listening and drops its connections, as a crashed or stopped service would. */
  stop(): Promise<void>
}

async function run(t: TestContext, app: App): Promise<Running> {
  const hits: string[] = []
  const jwksHits: string[] = []
  app.addHook('onRequest', async (request) => {
    const hit = `${request.method} ${request.url}`
    if (request.url.endsWith('/.well-known/jwks.json')) jwksHits.push(hit)
    else if (request.url !== '/health/ready' && request.url !== '/openapi.json') hits.push(hit)
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    app.server.closeAllConnections()
    await app.close()
  }
  t.teardown(stop)
  return { app, url, hits, jwksHits, stop }
}

export interface AuthService extends Running {
  issuer: string
  jwksUrl: string
  db: Awaited<ReturnType<typeof authSetup>>['db']
  keys: Awaited<ReturnType<typeof authSetup>>['keys']
  /** Signs an access token with auth's own key; claims and header as the test says. */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
}

export async function startAuth(t: TestContext): Promise<AuthService> {
  const harness = await authSetup(t, {}, { logger: silent })
  const running = await run(t, harness.app)
  const issuer = 'tms-test-auth'
  return {
    ...running,
    issuer,
    jwksUrl: `${running.url}/auth/.well-known/jwks.json`,
    db: harness.db,
    keys: harness.keys,
    sign(claims, header = {}) {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({
        iss: issuer,
        aud: 'tms-api',
        iat: now,
        exp: now + 900,
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: harness.keys.kid, ...header })
        .sign(harness.keys.privateKey)
    },
  }
}

export interface WalletService extends Running {
  addUser(id: string, role?: 'student' | 'tutor' | 'admin'): Promise<void>
}

/** The user-wallet service, verifying tokens with auth's JWKS as it does in production. */
export async function startWallet(t: TestContext, auth: AuthService): Promise<WalletService> {
  const service = await startTestService(t, wallet, {
    config: { jwtIssuer: auth.issuer, jwksUrl: auth.jwksUrl, currency: 'usd' },
    logger: silent,
  })
  const running = await run(t, service.app)
  return { ...running, addUser: (id, role) => addUser(service.db, id, role) }
}

/**
 * The academic stand-in: stores an uploaded body on disk (streamed, hashed on the way) and
 * streams it back, echoes the headers it got, and answers its readiness; every request counted.
 */
export interface FileStore {
  url: string
  hits: string[]
  /** The headers of the last echoed request. */
  echoed: http.IncomingHttpHeaders[]
  /** Resolves when the next upload's first bytes arrive here. */
  uploadArrives(): Promise<void>
  /** When set, a download sends its first half, then waits for this before the rest. */
  downloadGate?: () => Promise<void>
  /** What it serves at /openapi.json (404 while unset). */
  openapi?: object
  /** Its answer to /health/ready: 200 while true, 503 once set false. */
  ready: boolean
  stop(): Promise<void>
}

export async function startFileStore(t: TestContext): Promise<FileStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gateway-files-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const hits: string[] = []
  const echoed: http.IncomingHttpHeaders[] = []
  const files = new Map<string, string>()
  let arrived = Promise.withResolvers<void>()
  const server = http.createServer(async (req, res) => {
    hits.push(`${req.method} ${req.url}`)
    const url = req.url ?? '/'
    try {
      if (req.method === 'POST' && /^\/academic\/tutor-profiles\/[^/]+\/documents$/.test(url)) {
        const id = randomUUID()
        const file = path.join(dir, id)
        const hash = createHash('sha256')
        req.once('data', () => arrived.resolve())
        req.on('data', (chunk: Buffer) => hash.update(chunk))
        await pipeline(req, createWriteStream(file))
        files.set(id, file)
        arrived = Promise.withResolvers<void>()
        const { size } = await stat(file)
        res.writeHead(201, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ id, size, sha256: hash.digest('hex') }))
        return
      }
      const download = /^\/academic\/tutor-profiles\/[^/]+\/documents\/([^/?]+)$/.exec(url)
      if (req.method === 'GET' && download) {
        const file = files.get(download[1] ?? '')
        if (!file) {
          res.writeHead(404).end()
          return
        }
        const { size } = await stat(file)
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
        const half = Math.floor(size / 2)
        await pipeline(createReadStream(file, { end: half - 1 }), res, { end: false })
        await store.downloadGate?.()
        await pipeline(createReadStream(file, { start: half }), res)
        return
      }
      if (url === '/health/ready') {
        res.writeHead(store.ready ? 200 : 503, { 'content-type': 'application/json' }).end('{}')
        return
      }
      if (url === '/openapi.json') {
        if (!store.openapi) res.writeHead(404).end()
        else
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify(store.openapi))
        return
      }
      echoed.push(req.headers)
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ headers: req.headers }))
    } catch (err) {
      res.destroy(err as Error)
    }
  })
  const url = await listen(t, server)
  let stopped = false
  const store: FileStore = {
    url,
    hits,
    echoed,
    uploadArrives: () => arrived.promise,
    ready: true,
    async stop() {
      if (stopped) return
      stopped = true
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return store
}

/** An address where nothing listens (a service that is not deployed). */
export async function deadOrigin(): Promise<string> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

export const testSettings: AppSettings = {
  jwtIssuer: 'tms-test-auth',
  rateLimitMax: 100_000,
  rateLimitAuthMax: 100_000,
  rateLimitWindowMs: 60_000,
  corsOrigins: ['https://app.example'],
  openapiTtlMs: 0,
}

export const testUpstreamOptions = (clock: TestClock): UpstreamOptions => ({
  clock,
  connections: 16,
  pipelining: 1,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 2000,
  bodyTimeoutMs: 2000,
  downMs: 5000,
  probeMs: 0,
})

export interface GatewayOptions {
  origins: Record<Service, string[]>
  jwksUrl: string
  settings?: Partial<AppSettings>
  upstream?: Partial<UpstreamOptions>
  keys?: KeySource
  clock?: TestClock
  jwksMinRefetchMs?: number
  logger?: Logger
}

export interface Gateway {
  app: App
  clock: TestClock
  keys: KeySource
  /** JWKS fetches the gateway made. */
  jwksFetches: () => number
  upstreams: ReturnType<typeof createUpstreams<Service>>
}

export async function startGateway(t: TestContext, options: GatewayOptions): Promise<Gateway> {
  const clock = options.clock ?? new TestClock()
  let fetches = 0
  const keys =
    options.keys ??
    jwksKeySource({
      url: options.jwksUrl,
      clock,
      minRefetchMs: options.jwksMinRefetchMs ?? 30_000,
      maxAgeMs: 600_000,
      onFetch: () => {
        fetches++
      },
    })
  const upstreams = createUpstreams(options.origins, {
    ...testUpstreamOptions(clock),
    ...options.upstream,
  })
  const app = await buildApp({
    upstreams,
    keys,
    clock,
    settings: { ...testSettings, ...options.settings },
    logger: options.logger ?? silent,
  })
  t.teardown(() => app.close())
  return { app, clock, keys, jwksFetches: () => fetches, upstreams }
}

/** The whole system of these tests: auth, user-wallet, the academic stand-in, the gateway. */
export async function startSystem(t: TestContext, options: Partial<GatewayOptions> = {}) {
  const auth = await startAuth(t)
  const wallet = await startWallet(t, auth)
  const files = await startFileStore(t)
  const origins = {
    auth: [auth.url],
    user: [wallet.url],
    academic: [files.url],
    notifications: [await deadOrigin()],
    ...options.origins,
  }
  const gateway = await startGateway(t, { jwksUrl: auth.jwksUrl, ...options, origins })
  return { auth, wallet, files, gateway }
}

/** Signs up through the gateway, sets the role in auth's database, logs in: an access token. */
export async function loginAs(
  system: { auth: AuthService; wallet?: WalletService; gateway: Gateway },
  role: 'student' | 'tutor' | 'admin' = 'student',
) {
  const { app } = system.gateway
  const account = newAccount({ role: role === 'admin' ? 'student' : role })
  const signup = await app.inject({ method: 'POST', url: '/auth/signup', payload: account })
  if (signup.statusCode !== 201) throw new Error(`signup: ${signup.statusCode} ${signup.body}`)
  const id = signup.json().id as string
  if (role === 'admin') {
    await system.auth.db.updateTable('users').set({ role: 'admin' }).where('id', '=', id).execute()
  }
  await system.wallet?.addUser(id, role)
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: account.username, password: account.password },
  })
  if (login.statusCode !== 200) throw new Error(`login: ${login.statusCode} ${login.body}`)
  const tokens = login.json() as { access_token: string; refresh_token: string }
  return { id, username: account.username, ...tokens }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
