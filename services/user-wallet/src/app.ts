// The user-wallet service's HTTP app, built from injected dependencies: main.ts passes the real
// ones, tests a database of their own and a verifier for their test issuer.

import { type Bus, busReadiness } from '@tms/bus'
import type { Clock } from '@tms/clock'
import { type App, buildFastify } from '@tms/http'
import type { IdempotentReplyOptions } from '@tms/idempotency'
import { type AccessTokenVerifier, accessTokens } from '@tms/jwt'
import type { Logger } from '@tms/logging'
import { type Kysely, sql } from 'kysely'
import type { WalletDatabase } from './db/schema.ts'
import { userRoutes } from './routes/users.ts'

export interface AppSettings {
  currency: string
  trustProxy?: boolean | string
  httpRequestTimeoutMs?: number
  httpHeadersTimeoutMs?: number
}

export interface AppDeps {
  db: Kysely<WalletDatabase>
  clock: Clock
  verifyAccessToken: AccessTokenVerifier
  settings: AppSettings
  /** For readiness: a stalled consumer fails it, a broker outage does not (see README). */
  bus: Pick<Bus, 'status'>
  logger?: Logger
  logLevel?: string
  /** How Idempotency-Key claims age (tests shorten it and pause a request after its claim). */
  idempotency?: Pick<IdempotentReplyOptions<WalletDatabase>, 'staleClaimMs' | 'afterClaim'>
}

export type RouteDeps = AppDeps

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = await buildFastify({
    service: 'user-wallet',
    logger: deps.logger,
    logLevel: deps.logLevel,
    trustProxy: deps.settings.trustProxy,
    requestTimeoutMs: deps.settings.httpRequestTimeoutMs,
    headersTimeoutMs: deps.settings.httpHeadersTimeoutMs,
    healthChecks: {
      database: () => sql`SELECT 1`.execute(deps.db),
      bus: busReadiness(deps.bus),
    },
    openapi: {
      title: 'Tutor Management System: users and wallets',
      description: 'User profiles and the double-entry wallet ledger.',
      tokenUrl: '/auth/login',
    },
  })
  await app.register(accessTokens, { verify: deps.verifyAccessToken })
  await app.register(userRoutes, { prefix: '/user', deps })
  return app
}
