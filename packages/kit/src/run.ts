// A service's process in one call: configuration (one line per bad variable, status 78), the
// logger, the database (waits for it, migrates; one line and status 1 if it never comes), the
// bus, the service's start(), then the bus's link (which reconnects by itself), the jobs, the
// metrics listener and the HTTP listener, and one "ready" line. SIGINT or SIGTERM shuts it down
// gracefully: the listener stops accepting and finishes its requests, the jobs stop (a running
// one finishes), the bus closes (its handlers finish), the service's own onClose, the pool.
import { systemClock } from '@tms/clock'
import {
  ConfigProblem,
  exitWithConfigErrors,
  failStartup,
  loadConfig,
  type ServiceConfigSpec,
} from '@tms/config'
import { openDatabase } from '@tms/db'
import { createLogger, type Logger } from '@tms/logging'
import closeWithGrace from 'close-with-grace'
import { type JobRunner, startJobs } from './jobs.ts'
import {
  busPurgeJob,
  type ServiceDefinition,
  type ServiceParts,
  serviceBus,
  sharedConfig,
} from './service.ts'

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000

export async function runService<S extends ServiceConfigSpec, DB, Parts extends ServiceParts, O>(
  service: ServiceDefinition<S, DB, Parts, O>,
): Promise<void> {
  const config = loadConfig(service.configSpec)
  const problems = service.configProblems?.(config) ?? []
  if (problems.length > 0) exitWithConfigErrors(problems)
  const shared = sharedConfig(config)
  const logger = createLogger({ service: service.name, level: shared.logLevel })
  const clock = systemClock

  const db = await openDatabase<DB>(shared.databaseUrl, service.migrations, logger, {
    connectTimeoutMs: shared.dbConnectTimeoutMs,
  }).catch(failStartup)
  const bus = serviceBus(service.name, shared, db, logger, clock)
  const parts = await service
    .start({ config, logger, db, bus, clock })
    .catch((err) => failStart(err, logger))

  let jobs: JobRunner | undefined
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await parts.app.close()
    await jobs?.stop()
    await bus.close()
    await parts.onClose?.()
    await db.destroy()
  })

  // The broker may be away at start-up: requests are served, events wait in the outbox and in
  // the broker, and the link keeps trying (its log says so).
  bus.start().catch((err) => logger.error({ err }, 'the bus did not start'))
  jobs = startJobs([busPurgeJob(bus), ...(parts.jobs ?? [])], logger)
  try {
    const metrics = await parts.app.listenMetrics({
      host: shared.metricsHost,
      port: shared.metricsPort,
    })
    const url = await parts.app.listen({ host: shared.host, port: shared.port })
    logger.info({ url, metrics }, `${service.name} ready at ${url}`)
  } catch (err) {
    failStart(err, logger)
  }
}

/** A start-up step failed: a configuration problem is status 78, anything else status 1. */
function failStart(err: unknown, logger: Logger): never {
  if (err instanceof ConfigProblem) exitWithConfigErrors([err.message])
  logger.error({ err }, 'start-up failed')
  return failStartup(err)
}
