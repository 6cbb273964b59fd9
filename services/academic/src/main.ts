// The academic service: what it adds to the kit's process (docs/service-shape.md). Run as a
// program it starts the service; tests import it and start the same service with theirs.
import { createAccessTokenVerifier } from '@tms/jwt'
import { defineService, runService, type ServiceContext } from '@tms/kit'
import { type AppDeps, buildApp } from './app.ts'
import { type AcademicConfig, configProblems, configSpec } from './config.ts'
import { migrations } from './db/migrations.ts'
import type { AcademicDatabase } from './db/schema.ts'
import { subscribeUsers } from './events/users.ts'

async function start(
  ctx: ServiceContext<AcademicConfig, AcademicDatabase>,
  overrides?: Partial<AppDeps>,
) {
  const { config, bus, clock } = ctx
  subscribeUsers(bus, { clock })
  const keys = { jwksUrl: config.jwksUrl }
  const verifyAccessToken = createAccessTokenVerifier({ issuer: config.jwtIssuer, keys })
  const app = await buildApp({ ...ctx, verifyAccessToken, settings: config, ...overrides })
  return { app, jobs: [] }
}

export const academic = defineService({
  name: 'academic',
  configSpec,
  configProblems,
  migrations,
  start,
})

if (import.meta.main) await runService(academic)
