// An academic service of the test's own for the class-session tests: its database (migrated),
// its bus on a broker prefix of the test's own (started), the HTTP app for inject(), a
// TestClock, test tokens, and users and tutor profiles as auth's events and an admin's review
// would have made them.
import { type Bus, type BusOptions, createBus } from '@tms/bus'
import type { consumerQueues } from '@tms/contracts'
import { createDb, type Kysely, migrateToLatest } from '@tms/db'
import { type App, buildFastify } from '@tms/http'
import { accessTokens, createAccessTokenVerifier } from '@tms/jwt'
import { createLogger } from '@tms/logging'
import {
  createTestBroker,
  createTestDatabase,
  createTestIssuer,
  type Role,
  TestClock,
  type TestContext,
} from '@tms/testing'
import type { LightMyRequestResponse as Response } from 'fastify'
import { migrations } from '../src/db/migrations.ts'
import type { AcademicDatabase } from '../src/db/schema.ts'
import { subscribePayments } from '../src/events/payments.ts'
import { classSessionRoutes } from '../src/routes/class-sessions.ts'
import type { SessionDeps, SessionPolicy } from '../src/use-cases/class-sessions.ts'

export const logger = createLogger({
  service: 'academic-test',
  level: process.env.LOG_LEVEL ?? 'silent',
})

export const testPolicy: SessionPolicy = {
  currency: 'usd',
  platformFeeBps: 1000,
  cancellationNoticeHours: 24,
  lateCancelFeeBps: 5000,
}

export interface SessionsHarness {
  db: Kysely<AcademicDatabase>
  app: App
  bus: Bus<AcademicDatabase>
  clock: TestClock
  deps: SessionDeps
  broker: { url: string; prefix: string }
  addUser(id: string, role: Role): Promise<void>
  /** A tutor with a profile (approved unless said otherwise) at `rate` minor units an hour. */
  addTutor(id: string, rate?: number, status?: 'approved' | 'pending' | 'rejected'): Promise<void>
  /** An access token of the user (added before with addUser or addTutor). */
  token(userId: string): Promise<string>
  /** An HTTP call as the user (added before with addUser or addTutor). */
  call(
    userId: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>
}

export interface HarnessOptions {
  clock?: TestClock
  policy?: Partial<SessionPolicy>
  broker?: { url: string; prefix: string }
  /** Whether the bus starts (consumers and relay); true by default. */
  startBus?: boolean
  poolSize?: number
  /** Bus options beyond the harness's (a relay left off, say). */
  bus?: Partial<BusOptions<AcademicDatabase, typeof consumerQueues>>
}

export const BASE = '/academic/class-sessions'

export async function sessionsHarness(
  t: TestContext,
  options: HarnessOptions = {},
): Promise<SessionsHarness> {
  const db = createDb<AcademicDatabase>(await createTestDatabase(t), {
    poolSize: options.poolSize ?? 30,
  })
  t.teardown(() => db.destroy())
  await migrateToLatest(db, migrations)
  const clock = options.clock ?? new TestClock()
  const broker = options.broker ?? (await createTestBroker())
  const bus = createBus({
    service: 'academic',
    url: broker.url,
    prefix: broker.prefix,
    db,
    logger,
    clock,
    retryDelaysMs: [50, 100, 200, 400, 800],
    relay: { pollIntervalMs: 50 },
    reconnectMs: 200,
    ...options.bus,
  })
  const deps: SessionDeps = { db, bus, clock, policy: { ...testPolicy, ...options.policy } }
  subscribePayments(bus, deps, logger)
  t.teardown(async () => {
    await bus.close()
    await bus.deleteTopology()
  })
  if (options.startBus !== false) await bus.start()

  const issuer = await createTestIssuer()
  const app = await buildFastify({ service: 'academic', logger })
  await app.register(accessTokens, {
    verify: createAccessTokenVerifier({ issuer: issuer.issuer, keys: { jwks: issuer.jwks } }),
  })
  await app.register(classSessionRoutes, { prefix: BASE, deps })
  t.teardown(() => app.close())

  const roles = new Map<string, Role>()
  const tokens = new Map<string, string>()
  const addUser = async (id: string, role: Role) => {
    roles.set(id, role)
    await db
      .insertInto('users')
      .values({
        user_id: id,
        username: `u_${id}`.slice(0, 32),
        name: null,
        role,
        updated_at: new Date(),
      })
      .execute()
  }
  const token = async (userId: string) => {
    const role = roles.get(userId)
    if (!role) throw new Error(`no user ${userId} in this test`)
    let minted = tokens.get(userId)
    if (!minted) {
      minted = await issuer.mint({ sub: userId, role, username: `u_${userId}`.slice(0, 32) })
      tokens.set(userId, minted)
    }
    return minted
  }
  return {
    db,
    app,
    bus,
    clock,
    deps,
    broker,
    addUser,
    async addTutor(id, rate = 6000, status = 'approved') {
      await addUser(id, 'tutor')
      const now = new Date()
      await db
        .insertInto('tutor_profiles')
        .values({
          id: `p_${id}`,
          user_id: id,
          status,
          bio: 'teaches',
          hourly_rate: rate,
          currency: 'usd',
          review_note: null,
          reviewed_by: null,
          reviewed_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute()
    },
    token,
    async call(userId, method, url, body, headers = {}) {
      return app.inject({
        method,
        url: url.startsWith('/') ? url : `${BASE}/${url}`,
        headers: { authorization: `Bearer ${await token(userId)}`, ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      })
    },
  }
}

/** An ISO time `hours` from the clock's now, on a whole minute. */
export function hoursFrom(clock: TestClock, hours: number): string {
  const t = new Date(clock.now().getTime() + hours * 3_600_000)
  t.setUTCSeconds(0, 0)
  return t.toISOString()
}

/** A request body for a session of `minutes` starting `hoursAhead` from now. */
export function slot(
  clock: TestClock,
  tutorId: string,
  hoursAhead: number,
  minutes = 60,
  extra: Record<string, unknown> = {},
) {
  const start = hoursFrom(clock, hoursAhead)
  const end = new Date(new Date(start).getTime() + minutes * 60_000).toISOString()
  return { tutor_id: tutorId, start_time: start, end_time: end, subject: 'algebra', ...extra }
}

/** The outbox's events about a session, in order, as (type, data). */
export async function eventsOf(db: Kysely<AcademicDatabase>, sessionId: string) {
  const rows = await db
    .selectFrom('bus_outbox')
    .select(['type', 'envelope'])
    .orderBy('seq')
    .execute()
  return rows
    .map((r) => ({ type: r.type, data: JSON.parse(r.envelope).data }))
    .filter((e) => e.data.session_id === sessionId)
}

/** Sets a session's columns directly, to put it in a state for a test. */
export async function force(
  db: Kysely<AcademicDatabase>,
  sessionId: string,
  changes: Partial<AcademicDatabase['class_sessions']>,
) {
  await db.updateTable('class_sessions').set(changes).where('id', '=', sessionId).execute()
}
