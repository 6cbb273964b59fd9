// The user-wallet service's HTTP app, built from injected dependencies: main.ts's start passes
// the ones it made from the configuration; tests pass the same, with what they replace.
import type { Bus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { App } from '@tms/http'
import { type AccessTokenVerifier, accessTokens } from '@tms/jwt'
import { buildServiceApp } from '@tms/kit'
import type { Logger } from '@tms/logging'
import type { WalletConfig } from './config.ts'
import type { WalletDatabase } from './db/schema.ts'
import { walletServiceRoutes } from './routes/index.ts'
import type { IdempotencyHooks } from './routes/wallet.ts'

export interface AppDeps {
  db: Kysely<WalletDatabase>
  clock: Clock
  logger: Logger
  /** For readiness: a stalled consumer fails it, a broker outage does not (see README). */
  bus: Pick<Bus, 'status'>
  verifyAccessToken: AccessTokenVerifier
  settings: WalletConfig
  idempotency?: IdempotencyHooks
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = await buildServiceApp({
    name: 'user-wallet',
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    settings: deps.settings,
    openapi: {
      title: 'Tutor Management System: users and wallets',
      description: 'User profiles and the double-entry wallet ledger.',
      tokenUrl: '/auth/login',
    },
  })
  await app.register(accessTokens, { verify: deps.verifyAccessToken })
  const walletDeps = { db: deps.db, clock: deps.clock, currency: deps.settings.currency }
  await app.register(walletServiceRoutes, {
    prefix: '/user',
    deps: walletDeps,
    idempotency: deps.idempotency,
  })
  return app
}
