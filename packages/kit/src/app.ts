// The Fastify app of every service with a database and a bus, made one way: @tms/http's
// buildFastify with the shared timeouts and trusted proxies, and readiness that asks the
// database and the bus (busReadiness: a stalled consumer fails it, a broker outage does not,
// since writes wait in the outbox). A service's app.ts calls this, then registers its routes.
// The gateway, which has neither, calls buildFastify itself.
import { type Bus, busReadiness } from '@tms/bus'
import type { ServiceConfig } from '@tms/config'
import { type App, buildFastify, type OpenApiOptions } from '@tms/http'
import type { Logger } from '@tms/logging'
import { type QueryExecutorProvider, sql } from 'kysely'

/** The shared settings the app reads (a service passes its whole configuration). */
export type AppSettings = Pick<
  ServiceConfig,
  'trustProxy' | 'httpRequestTimeoutMs' | 'httpHeadersTimeoutMs'
>

export interface ServiceAppOptions {
  /** The service's name: the log's `service`, the root check's answer, the metrics' label. */
  name: string
  /** The service's database (any Kysely): readiness runs `SELECT 1` on it. */
  db: QueryExecutorProvider
  bus: Pick<Bus, 'status'>
  logger: Logger
  settings: AppSettings
  openapi: Omit<OpenApiOptions, 'title'> & { title: string }
}

export function buildServiceApp(options: ServiceAppOptions): Promise<App> {
  const { settings } = options
  const { db } = options
  return buildFastify({
    service: options.name,
    logger: options.logger,
    trustProxy: settings.trustProxy,
    requestTimeoutMs: settings.httpRequestTimeoutMs,
    headersTimeoutMs: settings.httpHeadersTimeoutMs,
    healthChecks: {
      database: () => sql`SELECT 1`.execute(db),
      bus: busReadiness(options.bus),
    },
    openapi: options.openapi,
  })
}
