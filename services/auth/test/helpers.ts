// Builds the auth app as main.ts does, on a database of the test's own, with a clock the test
// moves and cheap argon2 parameters (the defaults are OWASP's; tests only need it to work).
import { createBus } from '@tms/bus'
import { createDb, migrateToLatest } from '@tms/db'
import type { App } from '@tms/http'
import { createLogger } from '@tms/logging'
import { createTestBroker, createTestDatabase, type TestContext } from '@tms/testing'
import type { Kysely } from 'kysely'
import { type AppDeps, type AppSettings, buildApp } from '../src/app.ts'
import type { Clock } from '../src/clock.ts'
import { migrations } from '../src/db/migrations.ts'
import type { AuthDatabase } from '../src/db/schema.ts'
import { createPasswordChecker } from '../src/domain/password.ts'
import { generateSigningKeys, type SigningKeys } from '../src/keys.ts'

export class TestClock implements Clock {
  current = new Date()
  now() {
    return new Date(this.current)
  }
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms)
  }
}

export const testSettings: AppSettings = {
  jwtIssuer: 'tms-test-auth',
  accessTokenTtlSeconds: 900,
  refreshTokenTtlDays: 30,
  otpSecret: 'a-test-otp-secret-of-at-least-32-characters',
  otpTtlSeconds: 600,
  otpRequestMinMs: 0,
  rateLimitWindowMs: 60_000,
  rateLimitPerAccount: 1000,
  rateLimitPerAddress: 1000,
  rateLimitSignupPerAddress: 1000,
}

export const cheapArgon2 = { memoryKib: 64, passes: 1, parallelism: 1 }

export interface AuthHarness {
  app: App
  db: Kysely<AuthDatabase>
  clock: TestClock
  keys: SigningKeys
  databaseUrl: string
}

export async function setup(
  t: TestContext,
  settings: Partial<AppSettings> = {},
  logger = createLogger({ service: 'auth', level: 'silent' }),
  deps: Partial<Pick<AppDeps, 'hashQueue' | 'passwords'>> & {
    /** Wraps the app's database handle, e.g. to watch its queries. */
    wrapDb?: (db: Kysely<AuthDatabase>) => Kysely<AuthDatabase>
  } = {},
): Promise<AuthHarness> {
  const databaseUrl = await createTestDatabase(t)
  const db = createDb<AuthDatabase>(databaseUrl)
  t.teardown(() => db.destroy())
  await migrateToLatest(db, migrations)
  const broker = await createTestBroker()
  // Not started: enqueue only writes the outbox, which the tests read.
  const bus = createBus({ service: 'auth', url: broker.url, prefix: broker.prefix, db, logger })
  const clock = new TestClock()
  const keys = await generateSigningKeys()
  const { wrapDb, ...overrides } = deps
  const app = await buildApp({
    db: wrapDb ? wrapDb(db) : db,
    bus,
    clock,
    keys,
    passwords: createPasswordChecker(cheapArgon2),
    logger,
    settings: { ...testSettings, ...settings },
    ...overrides,
  })
  t.teardown(() => app.close())
  return { app, db, clock, keys, databaseUrl }
}

let counter = 0
export function newAccount(overrides: Record<string, unknown> = {}) {
  counter++
  return {
    username: `user_${process.pid}_${counter}`,
    email: `user${counter}.${process.pid}@example.com`,
    password: 'correct horse battery',
    role: 'student',
    ...overrides,
  }
}

export async function signup(app: App, overrides: Record<string, unknown> = {}) {
  const account = newAccount(overrides)
  const res = await app.inject({ method: 'POST', url: '/auth/signup', payload: account })
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`)
  return { ...account, id: res.json().id as string }
}

export interface Tokens {
  access_token: string
  refresh_token: string
  token_type: string
  expires_in: number
}

export async function login(app: App, username: string, password: string): Promise<Tokens> {
  const res = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username, password },
  })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The events in the outbox, oldest first. */
export async function outboxEvents(db: Kysely<AuthDatabase>) {
  const rows = await db.selectFrom('bus_outbox').select('envelope').orderBy('seq').execute()
  return rows.map((r) => JSON.parse(r.envelope) as { type: string; data: Record<string, unknown> })
}
