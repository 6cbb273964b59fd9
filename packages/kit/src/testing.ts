// A service started in a test as runService starts it in production: the same start(), on a
// database of the test's own (migrated), a bus on a broker prefix of the test's own (started,
// its topology deleted at teardown) and a TestClock. The jobs are returned, not started: a
// test runs one when it wants (`job('mail').run()`). Only HTTP is left out: tests inject().
import type { Bus, BusOptions } from '@tms/bus'
import type { Clock } from '@tms/clock'
import { type ConfigOf, readConfig, type ServiceConfigSpec } from '@tms/config'
import { createDb, type Kysely, migrateToLatest } from '@tms/db'
import { createLogger, type Logger } from '@tms/logging'
import { createTestBroker, createTestDatabase, TestClock, type TestContext } from '@tms/testing'
import type { Job } from './jobs.ts'
import { type ServiceDefinition, type ServiceParts, serviceBus, sharedConfig } from './service.ts'

export interface TestServiceOptions<Config, DB, Overrides, C extends Clock> {
  /** Typed settings over the test's configuration (read from the spec's defaults). */
  config?: Partial<Config>
  /** A TestClock by default. */
  clock?: C
  /** Silent by default (LOG_LEVEL shows it); captureLogs() to read it. */
  logger?: Logger
  /** The broker and prefix; a fresh prefix by default. */
  broker?: { url: string; prefix: string }
  /** Bus options beyond the configuration: faster polls and reconnects, onProcessed… */
  bus?: Partial<BusOptions<DB>>
  /** Wraps the database handle start() gets (the bus keeps the plain one), to watch queries. */
  wrapDb?: (db: Kysely<DB>) => Kysely<DB>
  /** Passed to start() as its second argument. */
  overrides?: Overrides
}

export type TestService<Config, DB, Parts, C> = Parts & {
  config: Config
  /** The plain handle, for the test's own queries and assertions. */
  db: Kysely<DB>
  bus: Bus<DB>
  clock: C
  logger: Logger
  broker: { url: string; prefix: string }
  databaseUrl: string
  /** One of the service's jobs, by name (they are not started in tests). */
  job(name: string): Job
}

export async function startTestService<
  S extends ServiceConfigSpec,
  DB,
  Parts extends ServiceParts,
  O,
  C extends Clock = TestClock,
>(
  t: TestContext,
  service: ServiceDefinition<S, DB, Parts, O>,
  options: TestServiceOptions<ConfigOf<S>, DB, O, C> = {},
): Promise<TestService<ConfigOf<S>, DB, Parts, C>> {
  const databaseUrl = await createTestDatabase(t)
  const broker = options.broker ?? (await createTestBroker())
  const env = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    AMQP_URL: broker.url,
    BUS_PREFIX: broker.prefix,
    PORT: '0',
    METRICS_PORT: '0',
  }
  const config: ConfigOf<S> = { ...readConfig(service.configSpec, env), ...options.config }
  const problems = service.configProblems?.(config) ?? []
  if (problems.length > 0) throw new Error(`test configuration: ${problems.join('; ')}`)
  const logger =
    options.logger ??
    createLogger({ service: service.name, level: process.env.LOG_LEVEL ?? 'silent' })
  const clock = options.clock ?? (new TestClock() as unknown as C)

  const db = createDb<DB>(databaseUrl)
  t.teardown(() => db.destroy())
  await migrateToLatest(db, service.migrations)
  const bus = serviceBus(service.name, sharedConfig(config), db, logger, clock, options.bus)
  t.teardown(async () => {
    await bus.close()
    await bus.deleteTopology()
  })
  const parts = await service.start(
    { config, logger, db: options.wrapDb?.(db) ?? db, bus, clock },
    options.overrides,
  )
  t.teardown(async () => {
    await parts.app.close()
    await parts.onClose?.()
  })
  await bus.start()
  const jobs = parts.jobs ?? []
  return {
    ...parts,
    config,
    db,
    bus,
    clock,
    logger,
    broker,
    databaseUrl,
    job(name) {
      const job = jobs.find((j) => j.name === name)
      if (!job) throw new Error(`${service.name} has no job "${name}"`)
      return job
    },
  }
}

export { type EventFeed, eventFeed, type OutboxEvent, outboxEvents } from './event-feed.ts'
