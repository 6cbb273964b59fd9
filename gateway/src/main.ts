// The gateway process: configuration, the upstreams and the signing keys, the public listener,
// the operator's /metrics listener, and a graceful shutdown.
import http from 'node:http'
import { systemClock } from '@tms/clock'
import { loadConfig } from '@tms/config'
import { createLogger } from '@tms/logging'
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { buildApp } from './app.ts'
import { configSpec } from './config.ts'
import { jwksKeySource } from './edge/keys.ts'
import { createUpstreams } from './edge/upstreams.ts'

const config = loadConfig(configSpec)
// Buffered: one write per few kilobytes instead of a write per line (a line per request was
// 8% of the gateway's CPU under load); flushed at shutdown.
const logDestination = pino.destination({ dest: 1, sync: false, minLength: 4096 })
const logger = createLogger({
  service: 'gateway',
  level: config.logLevel,
  destination: logDestination,
})
if (config.nodeEnv === 'production' && config.corsOrigins.includes('*')) {
  logger.warn('CORS_ORIGINS=* lets any web page call the API (without credentials)')
}

const keys = jwksKeySource({
  url: config.jwksUrl,
  clock: systemClock,
  minRefetchMs: config.jwksMinRefetchMs,
  maxAgeMs: config.jwksMaxAgeMs,
  onFetch: (outcome, err) => {
    if (outcome === 'failed') logger.warn({ err }, 'JWKS fetch failed; cached keys stay in use')
  },
})

const upstreams = createUpstreams(
  {
    auth: config.authUpstreams,
    user: config.userUpstreams,
    academic: config.academicUpstreams,
    notifications: config.notificationsUpstreams,
  },
  {
    clock: systemClock,
    connections: config.upstreamConnections,
    pipelining: config.upstreamPipelining,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    headersTimeoutMs: config.upstreamTimeoutMs,
    bodyTimeoutMs: config.upstreamTimeoutMs,
    downMs: config.upstreamDownMs,
    probeMs: config.healthProbeMs,
    onChange: (replica, why) => logger.warn({ upstream: replica.origin, why }, 'replica changed'),
  },
)

const app = await buildApp({
  upstreams,
  keys,
  clock: systemClock,
  settings: config,
  logger,
})

// Prometheus scrapes the gateway here, on an address of the operator's, never the public port.
const metricsServer = http.createServer(async (req, res) => {
  if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
    const body = await app.metrics.metrics()
    res.writeHead(200, { 'content-type': app.metrics.contentType })
    res.end(body)
    return
  }
  res.writeHead(404, { 'content-type': 'text/plain' })
  res.end('not found\n')
})

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  metricsServer.close()
  await app.close()
  logDestination.flushSync()
})

// The keys are fetched now, so the first requests need not wait; auth may not be up yet.
void keys.warm()
await app.listen({ host: config.host, port: config.port })
metricsServer.listen(config.metricsPort, config.metricsHost, () => {
  logger.info({ host: config.metricsHost, port: config.metricsPort }, 'metrics listener ready')
})
