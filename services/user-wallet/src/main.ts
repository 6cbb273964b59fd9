// The user-wallet service process: configuration, database and migrations, the bus and its
// consumers, the HTTP server, and a graceful shutdown of all of them.
import { createBus } from '@tms/bus'
import { systemClock } from '@tms/clock'
import { failStartup, loadConfig } from '@tms/config'
import { openDatabase } from '@tms/db'
import { purgeIdempotencyKeys } from '@tms/idempotency'
import { createAccessTokenVerifier } from '@tms/jwt'
import { createLogger } from '@tms/logging'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { configSpec } from './config.ts'
import { migrations } from './db/migrations.ts'
import type { WalletDatabase } from './db/schema.ts'
import { subscribeBooking } from './events/booking.ts'
import { subscribeProfiles } from './events/profiles.ts'

const config = loadConfig(configSpec)
const logger = createLogger({ service: 'user-wallet', level: config.logLevel })

const db = await openDatabase<WalletDatabase>(config.databaseUrl, migrations, logger, {
  connectTimeoutMs: config.dbConnectTimeoutMs,
}).catch(failStartup)

const bus = createBus({
  service: 'user-wallet',
  url: config.amqpUrl,
  prefix: config.busPrefix,
  db,
  logger,
  retryDelaysMs: config.retryDelaysMs,
})
subscribeProfiles(bus)
subscribeBooking(bus)

const app = await buildApp({
  db,
  clock: systemClock,
  verifyAccessToken: createAccessTokenVerifier({
    issuer: config.jwtIssuer,
    keys: { jwksUrl: config.jwksUrl },
  }),
  settings: {
    currency: config.currency,
    trustProxy: config.trustProxy,
    httpRequestTimeoutMs: config.httpRequestTimeoutMs,
    httpHeadersTimeoutMs: config.httpHeadersTimeoutMs,
  },
  bus,
  logger,
})

// Expired Idempotency-Keys go at start-up (catching up after downtime) and hourly; the purge
// deletes in batches and is safe with several replicas running it at once.
const purgeKeys = () =>
  purgeIdempotencyKeys(db, systemClock).catch((err) =>
    logger.warn({ err }, 'idempotency key purge failed'),
  )
void purgeKeys()
const purgeTimer = setInterval(purgeKeys, 60 * 60 * 1000)
purgeTimer.unref()

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  clearInterval(purgeTimer)
  await app.close()
  await bus.close()
  await db.destroy()
})

// The broker may be down at start-up: requests are served and events wait in the broker.
bus.start().catch((err) => logger.error({ err }, 'the bus did not start'))
await app.listen({ host: config.host, port: config.port })
await app.listenMetrics({ host: config.metricsHost, port: config.metricsPort })
