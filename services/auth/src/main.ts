// The auth service process: configuration, database and migrations, the bus, the first admin,
// the mail sender and the HTTP server, and a graceful shutdown of all of them.
import path from 'node:path'
import { createBus } from '@tms/bus'
import { failStartup, loadConfig } from '@tms/config'
import { openDatabase } from '@tms/db'
import { createLogger } from '@tms/logging'
import closeWithGrace from 'close-with-grace'
import { ensureAdmin } from './admin.ts'
import { buildApp } from './app.ts'
import { systemClock } from './clock.ts'
import { configProblems, configSpec } from './config.ts'
import { migrations } from './db/migrations.ts'
import type { AuthDatabase } from './db/schema.ts'
import { createPasswordChecker } from './domain/password.ts'
import { loadSigningKeys } from './keys.ts'
import { fileTransport, MailSender, smtpTransport } from './mail.ts'

const config = loadConfig(configSpec)
const problems = configProblems(config)
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`config error: ${p}\n`)
  process.exit(78)
}

const logger = createLogger({ service: 'auth', level: config.logLevel })
const production = config.nodeEnv === 'production'

let keys: Awaited<ReturnType<typeof loadSigningKeys>>
try {
  keys = await loadSigningKeys({
    privateKeyPem: config.jwtPrivateKey,
    privateKeyFile: config.jwtPrivateKeyFile,
    previousPublicKeyPem: config.jwtPreviousPublicKey,
    previousPublicKeyFile: config.jwtPreviousPublicKeyFile,
    dataDir: config.dataDir,
    production,
  })
} catch (err) {
  process.stderr.write(`config error: ${(err as Error).message}\n`)
  process.exit(78)
}
if (keys.generated) {
  logger.warn(
    { file: path.join(config.dataDir, 'keys', 'jwt-private.pem') },
    'using a generated development signing key; set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE in production',
  )
}

const db = await openDatabase<AuthDatabase>(config.databaseUrl, migrations, logger, {
  connectTimeoutMs: config.dbConnectTimeoutMs,
}).catch(failStartup)

const bus = createBus({
  service: 'auth',
  url: config.amqpUrl,
  prefix: config.busPrefix,
  db,
  logger,
  retryDelaysMs: config.retryDelaysMs,
})
const passwords = createPasswordChecker({
  memoryKib: config.argon2MemoryKib,
  passes: config.argon2Passes,
  parallelism: 1,
})

if (config.adminUsername && config.adminEmail && config.adminPassword) {
  await ensureAdmin(
    { db, bus, passwords, clock: systemClock, logger },
    { username: config.adminUsername, email: config.adminEmail, password: config.adminPassword },
  )
}

const app = await buildApp({
  db,
  bus,
  clock: systemClock,
  keys,
  passwords,
  logger,
  settings: config,
})

const mailSender = new MailSender({
  db,
  transport: config.smtpUrl
    ? smtpTransport(config.smtpUrl, config.mailFrom)
    : fileTransport(path.join(config.dataDir, 'mail')),
  logger: logger.child({ component: 'mail' }),
  clock: systemClock,
  pollMs: config.mailPollMs,
})

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  await app.close()
  await mailSender.stop()
  await bus.close()
  await db.destroy()
})

// The broker may be down at start-up: requests are served and events wait in the outbox.
bus.start().catch((err) => logger.error({ err }, 'the bus did not start'))
mailSender.start()
await app.listen({ host: config.host, port: config.port })
await app.listenMetrics({ host: config.metricsHost, port: config.metricsPort })
