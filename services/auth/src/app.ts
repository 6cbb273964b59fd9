// The auth service's HTTP app, built from injected dependencies: main.ts passes the real
// ones, tests the same kinds with a database and broker of their own and a clock they move.
import formbody from '@fastify/formbody'
import { type App, buildFastify } from '@tms/http'
import { accessTokens, createAccessTokenVerifier } from '@tms/jwt'
import type { Logger } from '@tms/logging'
import { type Kysely, sql } from 'kysely'
import type { Clock } from './clock.ts'
import type { AuthDatabase } from './db/schema.ts'
import type { PasswordChecker } from './domain/password.ts'
import type { EventOutbox } from './events/publish.ts'
import type { SigningKeys } from './keys.ts'
import { RateLimiter, type RateLimits } from './rate-limit.ts'
import { authRoutes } from './routes/auth.ts'

export interface AppSettings {
  jwtIssuer: string
  accessTokenTtlSeconds: number
  refreshTokenTtlDays: number
  otpSecret: string
  otpTtlSeconds: number
  /** A reset-code request answers no sooner than this, known email or not. */
  otpRequestMinMs: number
  rateLimitWindowMs: number
  rateLimitPerAccount: number
  rateLimitPerAddress: number
  trustProxy?: boolean | string
  httpRequestTimeoutMs?: number
  httpHeadersTimeoutMs?: number
}

export interface AppDeps {
  db: Kysely<AuthDatabase>
  bus: EventOutbox & { isConnected?: () => boolean }
  clock: Clock
  keys: SigningKeys
  passwords: PasswordChecker
  settings: AppSettings
  logger?: Logger
  logLevel?: string
}

export interface RouteDeps extends AppDeps {
  rateLimits: RateLimits
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = await buildFastify({
    service: 'auth',
    logger: deps.logger,
    logLevel: deps.logLevel,
    trustProxy: deps.settings.trustProxy,
    requestTimeoutMs: deps.settings.httpRequestTimeoutMs,
    headersTimeoutMs: deps.settings.httpHeadersTimeoutMs,
    healthChecks: {
      database: () => sql`SELECT 1`.execute(deps.db),
      broker: async () => {
        if (deps.bus.isConnected && !deps.bus.isConnected()) throw new Error('not connected')
      },
    },
    openapi: {
      title: 'Tutor Management System: auth',
      description: 'Accounts, passwords, tokens and password-reset codes.',
      tokenUrl: '/auth/login',
    },
  })
  await app.register(formbody)
  await app.register(accessTokens, {
    verify: createAccessTokenVerifier({
      issuer: deps.settings.jwtIssuer,
      keys: { jwks: deps.keys.jwks },
      now: () => deps.clock.now(),
    }),
  })
  const limiter = (max: number) =>
    new RateLimiter({ max, windowMs: deps.settings.rateLimitWindowMs, clock: deps.clock })
  const routeDeps: RouteDeps = {
    ...deps,
    rateLimits: {
      perAccount: limiter(deps.settings.rateLimitPerAccount),
      perAddress: limiter(deps.settings.rateLimitPerAddress),
    },
  }
  await app.register(authRoutes, { prefix: '/auth', deps: routeDeps })
  return app
}
