// The gateway process: configuration, the upstreams and the signing keys, the public listener,
// the operator's /metrics listener, and a graceful shutdown.
import { systemClock } from '@tms/clock'
import { loadConfig } from '@tms/config'
import { createLogger } from '@tms/logging'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { configSpec } from './config.ts'
import { jwksKeySource } from './edge/keys.ts'
import { createUpstreams } from './edge/upstreams.ts'
import { type OperatorListener, startOperatorListener } from './operator.ts'

const config = loadConfig(configSpec)
const logger = createLogger({ service: 'gateway', level: config.logLevel })
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
    onChange: (replica, why) =>
      logger[why === 'ready' ? 'info' : 'warn'](
        { upstream: replica.origin, why },
        'replica changed',
      ),
  },
)

const app = await buildApp({
  upstreams,
  keys,
  clock: systemClock,
  settings: config,
  logger,
})

let operator: OperatorListener | undefined
closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  await operator?.close()
  await app.close()
})

// The keys are fetched now, so the first requests need not wait; auth may not be up yet.
void keys.warm()
await app.listen({ host: config.host, port: config.port })
operator = await startOperatorListener(app.metrics, config.metricsHost, config.metricsPort)
logger.info({ url: operator.url }, 'metrics listener ready')
