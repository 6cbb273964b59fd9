// The auth service's HTTP app, built from injected dependencies: main.ts's start passes the
// ones it made from the configuration; tests pass the same, with what they replace.

import type { Bus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { App } from '@tms/http'
import { accessTokens, createAccessTokenVerifier } from '@tms/jwt'
import { buildServiceApp } from '@tms/kit'
import type { Logger } from '@tms/logging'
import type { AuthConfig } from './config.ts'
import type { AuthDatabase } from './db/schema.ts'
import type { PasswordChecker } from './domain/password.ts'
import { RateLimiter } from './domain/rate-limit.ts'
import { AccountThrottle } from './domain/throttle.ts'
import type { SigningKeys } from './domain/tokens.ts'
import { HashQueue, queuedPasswords } from './hash-queue.ts'
import { authRoutes } from './routes/index.ts'
import type { AuthDeps, Limits } from './use-cases/deps.ts'

export interface AppDeps {
  db: Kysely<AuthDatabase>
  /** Its outbox for the use-cases; its status for readiness. */
  bus: Pick<Bus, 'enqueue' | 'status'>
  clock: Clock
  logger: Logger
  keys: SigningKeys
  passwords: PasswordChecker
  settings: AuthConfig
  /** The bound on password hashing; made from the settings when absent (a test passes one). */
  hashQueue?: HashQueue
}

function limits(settings: AuthConfig, clock: Clock): Limits {
  const limiter = (max: number) =>
    new RateLimiter({ max, windowMs: settings.rateLimitWindowMs, clock })
  return {
    perAccount: limiter(settings.rateLimitPerAccount),
    perAddress: limiter(settings.rateLimitPerAddress),
    signupPerAddress: limiter(settings.rateLimitSignupPerAddress),
    guesses: new AccountThrottle({
      freeFailures: settings.rateLimitPerAccount,
      baseDelayMs: settings.loginDelayBaseMs,
      maxDelayMs: settings.loginDelayMaxMs,
      windowMs: settings.rateLimitWindowMs,
      clock,
    }),
  }
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { settings, clock } = deps
  const app = await buildServiceApp({
    name: 'auth',
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    settings,
    openapi: {
      title: 'Tutor Management System: auth',
      description: 'Accounts, passwords, tokens and password-reset codes.',
      tokenUrl: '/auth/login',
    },
  })
  await app.register(accessTokens, {
    verify: createAccessTokenVerifier({
      issuer: settings.jwtIssuer,
      keys: { jwks: deps.keys.jwks },
      clock,
    }),
  })
  const concurrency = settings.passwordHashConcurrency
  const hashQueue =
    deps.hashQueue ??
    new HashQueue({ concurrency, maxQueued: settings.passwordHashQueue ?? 8 * concurrency })
  const routeDeps: AuthDeps = {
    db: deps.db,
    bus: deps.bus,
    clock,
    logger: deps.logger,
    keys: deps.keys,
    passwords: queuedPasswords(deps.passwords, hashQueue),
    settings,
    limits: limits(settings, clock),
  }
  await app.register(authRoutes, { prefix: '/auth', deps: routeDeps })
  return app
}
