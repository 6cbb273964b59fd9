// What a service is to the kit: its name, configuration, migrations, and a start(ctx) that
// subscribes its event handlers and returns its app and jobs. runService (run.ts) gives start
// a context made from the configuration; startTestService (testing.ts) gives it one made of a
// test database, a test broker prefix and a TestClock. The same start runs in both.
import { type Bus, type BusOptions, createBus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { ConfigOf, ServiceConfig, ServiceConfigSpec } from '@tms/config'
import type { Kysely, Migrations } from '@tms/db'
import type { App } from '@tms/http'
import type { Logger } from '@tms/logging'
import type { Job } from './jobs.ts'

/** What start gets: the configuration and the process's logger, database, bus and clock. */
export interface ServiceContext<Config = ServiceConfig, DB = unknown> {
  config: Config
  logger: Logger
  /** Migrated already. */
  db: Kysely<DB>
  /** Not started yet: start subscribes the service's handlers to it. */
  bus: Bus<DB>
  clock: Clock
}

/** What start returns; the kit starts and stops it. */
export interface ServiceParts {
  app: App
  /** The service's timers (see jobs.ts); the bus's purge is added by the kit. */
  jobs?: Job[]
  /** Closes what the service opened itself; runs after the bus closed, before the database. */
  onClose?: () => Promise<void>
}

export interface ServiceDefinition<
  S extends ServiceConfigSpec = ServiceConfigSpec,
  DB = unknown,
  Parts extends ServiceParts = ServiceParts,
  Overrides = undefined,
> {
  /** The log's `service`, the bus's producer name, the root check's answer. */
  name: string
  /** The service's variables: `{ ...serviceConfigSpec({ port, database }), …its own }`. */
  configSpec: S
  /** Rules across variables, one message each; any stops the start (status 78). */
  configProblems?: (config: ConfigOf<S>) => string[]
  /** The service's migrations, with busMigrations (and any package's) merged in. */
  migrations: Migrations
  /**
   * Subscribes the handlers and builds the app. `overrides` is for tests only (a hook, a
   * different component), passed by startTestService and never by runService.
   */
  start(ctx: ServiceContext<ConfigOf<S>, DB>, overrides?: Overrides): Promise<Parts>
}

/** Declares a service; only gives the compiler the types to infer. */
export function defineService<
  S extends ServiceConfigSpec,
  DB,
  Parts extends ServiceParts,
  Overrides = undefined,
>(
  definition: ServiceDefinition<S, DB, Parts, Overrides>,
): ServiceDefinition<S, DB, Parts, Overrides> {
  return definition
}

/** The shared part of a service's configuration (every service spreads serviceConfigSpec). */
export function sharedConfig(config: unknown): ServiceConfig {
  return config as ServiceConfig
}

/** The service's bus, with the shared settings. */
export function serviceBus<DB>(
  name: string,
  config: ServiceConfig,
  db: Kysely<DB>,
  logger: Logger,
  clock: Clock,
  options: Partial<BusOptions<DB>> = {},
): Bus<DB> {
  return createBus<DB>({
    service: name,
    url: config.amqpUrl,
    prefix: config.busPrefix,
    retryDelaysMs: config.retryDelaysMs,
    db,
    logger,
    clock,
    ...options,
  })
}

const HOUR = 60 * 60 * 1000

/**
 * The bus's housekeeping: old published outbox rows and inbox records, deleted in batches.
 * Replica-safe: a batched DELETE of old rows nobody writes any more; two replicas at once only
 * share the work.
 */
export function busPurgeJob(bus: Pick<Bus, 'purge'>): Job {
  return { name: 'bus-purge', everyMs: HOUR, run: () => bus.purge() }
}
