// The academic service: what it adds to the kit's process (docs/service-shape.md). Run as a
// program it starts the service; tests import it and start the same service with theirs.
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
import { expireDueRequests } from './use-cases/session-moves.ts'

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
  // Requests unanswered at their start. Replica-safe: each batch takes the due rows FOR UPDATE
  // SKIP LOCKED, so replicas share them and none is cancelled twice; a run takes every past-due
  // request however old, so the first run after downtime catches up.
  const expiry = {
    name: 'session-expiry',
    everyMs: 60_000,
    run: () => expireDueRequests({ db, bus, clock }),
  }
  const jobs = [documentSweepJob({ ...ctx, store }, config), expiry]
  return { app, jobs, onClose: async () => store.close() }
}

export const academic = defineService({
  name: 'academic',
  configSpec,
  configProblems,
  migrations,
  start,
})

if (import.meta.main) await runService(academic)
