// The user-wallet service: what it adds to the kit's process (docs/service-shape.md). Run as a
// program it starts the service; tests import it and start the same service with theirs.
import { idempotencyPurgeJob } from '@tms/idempotency'
import { createAccessTokenVerifier } from '@tms/jwt'
import { defineService, runService, type ServiceContext } from '@tms/kit'
import { type AppDeps, buildApp } from './app.ts'
import { configSpec, type WalletConfig } from './config.ts'
import { migrations } from './db/migrations.ts'
import type { WalletDatabase } from './db/schema.ts'
import { subscribeBooking } from './events/booking.ts'
import { subscribeProfiles } from './events/profiles.ts'

async function start(
  ctx: ServiceContext<WalletConfig, WalletDatabase>,
  overrides?: Partial<AppDeps>,
) {
  const { config, db, bus, clock } = ctx
  subscribeProfiles(bus, { clock })
  subscribeBooking(bus, { clock })
  const keys = { jwksUrl: config.jwksUrl }
  const verifyAccessToken = createAccessTokenVerifier({ issuer: config.jwtIssuer, keys })
  const app = await buildApp({ ...ctx, verifyAccessToken, settings: config, ...overrides })
  return { app, jobs: [idempotencyPurgeJob(db, clock)] }
}

export const wallet = defineService({ name: 'user-wallet', configSpec, migrations, start })

if (import.meta.main) await runService(wallet)
