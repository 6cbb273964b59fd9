// The gateway's HTTP app, built from injected dependencies: main.ts passes the real ones, tests
// upstreams in front of in-process services, a key source and a clock of their own.
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import type { Clock } from '@tms/clock'
import { type App, buildFastify, httpError } from '@tms/http'
import type { Logger } from '@tms/logging'
import { Counter } from 'prom-client'
import { edgeAccess } from './edge/access.ts'
import type { KeySource } from './edge/keys.ts'
import { OpenApiMerger } from './edge/openapi.ts'
import { type BodyLimits, edgeProxy } from './edge/proxy.ts'
import type { Service } from './edge/route-table.ts'
import { helmetOptions, securityHeaders } from './edge/security-headers.ts'
import type { Upstream } from './edge/upstreams.ts'
import { apiDocs } from './routes/docs.ts'
import { serviceHealth } from './routes/health.ts'

export interface AppSettings {
  jwtIssuer: string
  /** Requests per client address per window, everywhere but /auth. */
  rateLimitMax: number
  /** Requests per client address per window on /auth. */
  rateLimitAuthMax: number
  rateLimitWindowMs: number
  /** Allowed browser origins; `*` alone allows any origin, without credentials. */
  corsOrigins: string[]
  openapiTtlMs: number
  trustProxy?: boolean | string
  bodyLimits?: BodyLimits
  /** Time allowed for a client to send a whole request (headers and body). */
  clientRequestTimeoutMs?: number
}

export interface AppDeps {
  /** The replicas of each service; see edge/upstreams.ts. */
  upstreams: Record<Service, Upstream>
  keys: KeySource
  clock: Clock
  settings: AppSettings
  logger?: Logger
  logLevel?: string
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { settings } = deps
  const app = await buildFastify({
    service: 'gateway',
    logger: deps.logger,
    logLevel: deps.logLevel,
    trustProxy: settings.trustProxy,
    // A slow or stalled client cannot hold a connection open for ever (uploads of 50 MiB take
    // longer than a service's request, hence the longer default).
    requestTimeoutMs: settings.clientRequestTimeoutMs ?? 120_000,
    headersTimeoutMs: 30_000,
    healthChecks: {
      // The gateway can check tokens once it has the signing keys; while it has none (auth was
      // not up at start-up), each readiness probe asks for them again.
      keys: async () => {
        if (!deps.keys.loaded()) await deps.keys.warm()
        if (!deps.keys.loaded()) throw new Error('no signing keys yet')
      },
    },
    openapi: { title: 'Tutor Management System: gateway', tokenUrl: '/auth/login' },
  })

  // Every answer gets the security headers (helmet's, computed once: see
  // edge/security-headers.ts) and the request id (made by @tms/http's request-id options, or a
  // well-formed incoming one kept), which the proxy also passes on to the service.
  const commonHeaders = securityHeaders(helmetOptions)
  const merger = new OpenApiMerger({
    upstreams: deps.upstreams,
    clock: deps.clock,
    ttlMs: settings.openapiTtlMs,
    // The gateway's own routes (read when first merged, after every route is registered).
    own: () => app.swagger() as unknown as Record<string, unknown>,
    logger: app.log as Logger,
  })
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(commonHeaders)
    reply.header('x-request-id', request.id)
    const route = request.routeOptions.url
    // The services' Prometheus endpoint is for the operator's listener only (see main.ts).
    if (route === '/metrics') {
      done(httpError(404, `no route for ${request.method} /metrics`))
      return
    }
    // @tms/http declared GET /openapi.json (a service's own document); here it is the merged
    // one. Sending from the hook ends the request here.
    if (route === '/openapi.json') {
      merger.document().then((doc) => reply.send(doc), done)
      return
    }
    done()
  })

  const anyOrigin = settings.corsOrigins.includes('*')
  await app.register(cors, {
    origin: anyOrigin ? '*' : settings.corsOrigins.length > 0 ? settings.corsOrigins : false,
    // Credentials (cookies, Authorization from a browser) only for origins named one by one.
    credentials: !anyOrigin && settings.corsOrigins.length > 0,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'idempotency-key',
      'x-request-id',
      'last-event-id',
    ],
    exposedHeaders: ['x-request-id', 'retry-after', 'location', 'idempotent-replayed'],
    maxAge: 600,
    // An OPTIONS without the preflight headers gets the same 204, not a plain-text 400.
    strictPreflight: false,
  })

  // Per client address: /auth has a bucket of its own, and a smaller one; everything else
  // (unlisted paths too) shares the other. One hook, numeric limits: no awaits but the store's.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      httpError(429, `too many requests; try again in ${Math.ceil(context.ttl / 1000)} seconds`),
  })
  const window = settings.rateLimitWindowMs
  const authLimit = app.rateLimit({ max: settings.rateLimitAuthMax, timeWindow: window })
  const generalLimit = app.rateLimit({ max: settings.rateLimitMax, timeWindow: window })
  app.addHook('onRequest', (request, reply) =>
    request.routeOptions.config.edgeService === 'auth'
      ? authLimit.call(app, request, reply)
      : generalLimit.call(app, request, reply),
  )

  await app.register(edgeAccess, {
    keys: deps.keys,
    issuer: settings.jwtIssuer,
    clock: deps.clock,
  })

  const upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Answers the gateway made itself because a service was down, slow or broken',
    labelNames: ['service', 'status', 'code'],
    registers: [app.metrics],
  })
  await app.register(edgeProxy, {
    upstreams: deps.upstreams,
    bodyLimits: settings.bodyLimits,
    onUpstreamError: (service, status, code) =>
      upstreamErrors.inc({ service, status: String(status), code }),
  })
  for (const upstream of Object.values(deps.upstreams)) upstream.startProbing()
  app.addHook('onClose', async () => {
    await Promise.all(Object.values(deps.upstreams).map((u) => u.close()))
  })

  await app.register(apiDocs, { documents: merger })
  await app.register(serviceHealth, { upstreams: deps.upstreams, keys: deps.keys })

  return app
}
