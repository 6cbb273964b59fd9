// The academic service's HTTP app, built from injected dependencies: main.ts's start passes
// the ones it made from the configuration; tests pass the same, with what they replace.
import type { Bus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { App } from '@tms/http'
import { type AccessTokenVerifier, accessTokens } from '@tms/jwt'
import { buildServiceApp } from '@tms/kit'
import type { Logger } from '@tms/logging'
import type { AcademicConfig } from './config.ts'
import type { AcademicDatabase } from './db/schema.ts'
import { academicRoutes } from './routes/index.ts'
import type { DocumentStore } from './storage/store.ts'

export interface AppDeps {
  db: Kysely<AcademicDatabase>
  clock: Clock
  logger: Logger
  /** Its outbox for the use-cases; its status for readiness (a stalled consumer fails it). */
  bus: Pick<Bus<AcademicDatabase>, 'enqueue' | 'status'>
  verifyAccessToken: AccessTokenVerifier
  settings: AcademicConfig
  store: DocumentStore
  afterStore?: () => Promise<void>
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = await buildServiceApp({
    name: 'academic',
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    settings: deps.settings,
    openapi: {
      title: 'Tutor Management System: academic',
      description: 'Tutor profiles, verification documents and class sessions.',
      tokenUrl: '/auth/login',
    },
  })
  await app.register(accessTokens, { verify: deps.verifyAccessToken })
  const { db, clock, bus, settings, logger, store, afterStore } = deps
  const academicDeps = { db, clock, bus, settings, logger, store, afterStore }
  await app.register(academicRoutes, { prefix: '/academic', deps: academicDeps })
  return app
}
