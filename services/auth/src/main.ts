// The auth service: what it adds to the kit's process (docs/service-shape.md). Run as a
// program it starts the service; tests import it and start the same service with theirs.
import { defineService, runService, type ServiceContext } from '@tms/kit'
import { type AppDeps, buildApp } from './app.ts'
import { type AuthConfig, argon2Of, configProblems, configSpec, firstAdminOf } from './config.ts'
import { migrations } from './db/migrations.ts'
import type { AuthDatabase } from './db/schema.ts'
import { createPasswordChecker } from './domain/password.ts'
import { signingKeysFromConfig } from './keys.ts'
import { configuredTransport } from './mail.ts'
import { ensureFirstAdmin } from './use-cases/accounts.ts'
import { sendDueMail } from './use-cases/mail.ts'

async function start(ctx: ServiceContext<AuthConfig, AuthDatabase>, overrides?: Partial<AppDeps>) {
  const { config, db, bus, clock, logger } = ctx
  const keys = await signingKeysFromConfig(config, logger)
  const passwords = createPasswordChecker(argon2Of(config))
  const admin = firstAdminOf(config)
  if (admin) await ensureFirstAdmin({ db, bus, clock, logger, passwords }, admin)
  const app = await buildApp({ ...ctx, keys, passwords, settings: config, ...overrides })
  const transport = configuredTransport(config, clock)
  // Replica-safe: each message is claimed by a conditional UPDATE before it is sent.
  const mail = {
    name: 'mail',
    everyMs: config.mailPollMs,
    run: () => sendDueMail({ ...ctx, transport }),
  }
  return { app, jobs: [mail] }
}

export const auth = defineService({ name: 'auth', configSpec, configProblems, migrations, start })

if (import.meta.main) await runService(auth)
