// The academic service: what it adds to the kit's process (docs/service-shape.md). Run as a
// program it starts the service; tests import it and start the same service with theirs.
import { idempotencyPurgeJob } from '@tms/idempotency'
import { createAccessTokenVerifier } from '@tms/jwt'
import { defineService, runService, type ServiceContext } from '@tms/kit'
import { type AppDeps, buildApp } from './app.ts'
import { type AcademicConfig, configProblems, configSpec } from './config.ts'
import { migrations } from './db/migrations.ts'
import type { AcademicDatabase } from './db/schema.ts'
import { subscribePayments } from './events/payments.ts'
import { subscribeUsers } from './events/users.ts'
import { createDocumentStore } from './storage/index.ts'
import { documentSweepJob } from './use-cases/document-objects.ts'
import { sessionExpiryJob } from './use-cases/session-moves.ts'

async function start(
  ctx: ServiceContext<AcademicConfig, AcademicDatabase>,
  overrides?: Partial<AppDeps>,
) {
  const { config, db, bus, clock } = ctx
  subscribeUsers(bus, { clock })
  subscribePayments(bus, { clock })
  const keys = { jwksUrl: config.jwksUrl }
  const verifyAccessToken = createAccessTokenVerifier({ issuer: config.jwtIssuer, keys })
  const store = overrides?.store ?? createDocumentStore(config)
  await store.init()
  const app = await buildApp({ ...ctx, verifyAccessToken, settings: config, store, ...overrides })
  const jobs = [
    documentSweepJob({ ...ctx, store }, config),
    sessionExpiryJob({ db, bus, clock }),
    idempotencyPurgeJob(db, clock),
  ]
  return { app, jobs, onClose: async () => store.close() }
}

const service = { name: 'academic', configSpec, configProblems, migrations, start }
export const academic = defineService(service)

if (import.meta.main) await runService(academic)
