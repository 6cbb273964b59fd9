// The auth service's HTTP app, built from injected dependencies: main.ts passes the real
// ones, tests the same kinds with a database and broker of their own and a clock they move.
import { type Bus, busReadiness } from '@tms/bus'
import { type App, buildFastify } from '@tms/http'
import { accessTokens, createAccessTokenVerifier } from '@tms/jwt'
import type { Logger } from '@tms/logging'
import { type Kysely, sql } from 'kysely'
import type { Clock } from './clock.ts'
import type { AuthDatabase } from './db/schema.ts'
import type { PasswordChecker } from './domain/password.ts'
import type { EventOutbox } from './events/publish.ts'
import { defaultHashConcurrency, HashQueue, queuedPasswords } from './hash-queue.ts'
import type { SigningKeys } from './keys.ts'
import { RateLimiter, type RateLimits } from './rate-limit.ts'
import { authRoutes } from './routes/auth.ts'
import { AccountThrottle } from './throttle.ts'

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
  /** Signups per client address and window (default 10). */
  rateLimitSignupPerAddress?: number
  /** The delay after the first failure beyond the free ones (default 1 s), and its cap (15 min). */
  loginDelayBaseMs?: number
  loginDelayMaxMs?: number
  /** Password hashes at once (default: see defaultHashConcurrency) and waiting (8 per place). */
  passwordHashConcurrency?: number
  passwordHashQueue?: number
  trustProxy?: boolean | string
  httpRequestTimeoutMs?: number
  httpHeadersTimeoutMs?: number
}

export interface AppDeps {
  db: Kysely<AuthDatabase>
  /** Its outbox for the routes; its status for readiness, which a broker outage does not fail. */
  bus: EventOutbox & Pick<Bus, 'status'>
  clock: Clock
  keys: SigningKeys
  passwords: PasswordChecker
  settings: AppSettings
  logger?: Logger
  logLevel?: string
  /** The bound on password hashing; made from the settings when absent (tests pass one). */
  hashQueue?: HashQueue
}

export interface RouteDeps extends AppDeps {
  rateLimits: RateLimits
  throttle: AccountThrottle
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
      bus: busReadiness(deps.bus),
    },
    openapi: {
      title: 'Tutor Management System: auth',
      description: 'Accounts, passwords, tokens and password-reset codes.',
      tokenUrl: '/auth/login',
    },
  })
  await app.register(accessTokens, {
    verify: createAccessTokenVerifier({
      issuer: deps.settings.jwtIssuer,
      keys: { jwks: deps.keys.jwks },
      now: () => deps.clock.now(),
    }),
  })
  const { settings } = deps
  const limiter = (max: number) =>
    new RateLimiter({ max, windowMs: settings.rateLimitWindowMs, clock: deps.clock })
  const concurrency = settings.passwordHashConcurrency ?? defaultHashConcurrency()
  const routeDeps: RouteDeps = {
    ...deps,
    passwords: queuedPasswords(
      deps.passwords,
      deps.hashQueue ??
        new HashQueue({ concurrency, maxQueued: settings.passwordHashQueue ?? 8 * concurrency }),
    ),
    rateLimits: {
      perAccount: limiter(settings.rateLimitPerAccount),
      perAddress: limiter(settings.rateLimitPerAddress),
      signupPerAddress: limiter(settings.rateLimitSignupPerAddress ?? 10),
    },
    throttle: new AccountThrottle({
      freeFailures: settings.rateLimitPerAccount,
      baseDelayMs: settings.loginDelayBaseMs ?? 1000,
      maxDelayMs: settings.loginDelayMaxMs ?? 15 * 60 * 1000,
      windowMs: settings.rateLimitWindowMs,
      clock: deps.clock,
    }),
  }
  await app.register(authRoutes, { prefix: '/auth', deps: routeDeps })
  return app
}
