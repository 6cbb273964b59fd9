// The academic service as main.ts starts it (helpers.ts' academicService), with what the
// class-session tests add: users and tutor profiles as auth's events and an admin's review
// would have made them (written directly, which is quicker than through the broker), tokens,
// and HTTP calls as a user.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Clock } from '@tms/clock'
import type { Role } from '@tms/contracts'
import { type Kysely, newId } from '@tms/db'
import { outboxEvents } from '@tms/kit/testing'
import type { TestClock, TestContext } from '@tms/testing'
import type { LightMyRequestResponse as Response } from 'fastify'
import type { AcademicConfig } from '../src/config.ts'
import type { AcademicDatabase, TutorProfilesTable } from '../src/db/schema.ts'
import { upsertUser } from '../src/db/users.ts'
import { type AcademicService, type AcademicServiceOptions, academicService } from './helpers.ts'
import { storageSettings } from './service-process.ts'

/** The settings the session tests assume: a 10 % fee, the SPEC's cancellation policy. */
export const sessionSettings: Partial<AcademicConfig> = {
  platformFeeBps: 1000,
  cancellationNoticeHours: 24,
  lateCancelFeeBps: 5000,
}

export type SessionsHarness = AcademicService & {
  clock: TestClock
  addUser(id: string, role: Role): Promise<void>
  /** A tutor with a profile (approved unless said otherwise) at `rate` minor units an hour. */
  addTutor(id: string, rate?: number, status?: 'approved' | 'pending' | 'rejected'): Promise<void>
  /** An access token of a user added with addUser or addTutor. */
  tokenOf(userId: string): Promise<string>
  /** An HTTP call as the user (added before with addUser or addTutor). */
  call(
    userId: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>
}

export const BASE = '/academic/class-sessions'

export async function sessionsHarness(
  t: TestContext,
  options: AcademicServiceOptions = {},
): Promise<SessionsHarness> {
  // Sessions store no documents, but the service makes its store: on a disk of the test's own.
  const dataDir = await mkdtemp(path.join(tmpdir(), 'academic-sessions-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const service = await academicService(t, {
    ...options,
    config: { ...storageSettings(dataDir, undefined), ...sessionSettings, ...options.config },
  })
  const { db } = service
  const clock = service.clock as TestClock
  const roles = new Map<string, Role>()
  const tokens = new Map<string, string>()
  const addUser = async (id: string, role: Role) => {
    roles.set(id, role)
    await upsertUser(db, {
      user_id: id,
      username: `u_${id}`.toLowerCase().slice(0, 32),
      name: null,
      role,
      updated_at: clock.now(),
    })
  }
  const tokenOf = async (userId: string) => {
    const role = roles.get(userId)
    if (!role) throw new Error(`no user ${userId} in this test`)
    let minted = tokens.get(userId)
    if (!minted) {
      minted = await service.token({ id: userId, role })
      tokens.set(userId, minted)
    }
    return minted
  }
  return {
    ...service,
    clock,
    addUser,
    tokenOf,
    async addTutor(id, rate = 6000, status = 'approved') {
      await addUser(id, 'tutor')
      await db
        .insertInto('tutor_profiles')
        .values(tutorProfile(id, rate, clock.now(), status))
        .execute()
    },
    async call(userId, method, url, body, headers = {}) {
      return service.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${await tokenOf(userId)}`, ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      })
    },
  }
}

/** A tutor's profile row as a review would leave it (approved unless said otherwise). */
export function tutorProfile(
  userId: string,
  rate: number,
  now: Date,
  status: TutorProfilesTable['status'] = 'approved',
): TutorProfilesTable {
  return {
    id: newId(),
    user_id: userId,
    status,
    bio: 'teaches',
    hourly_rate: rate,
    currency: 'usd',
    review_note: null,
    reviewed_by: null,
    reviewed_at: null,
    created_at: now,
    updated_at: now,
  }
}

/** An ISO time `hours` from the clock's now, on a whole minute. */
export function hoursFrom(clock: Clock, hours: number): string {
  const t = new Date(clock.now().getTime() + hours * 3_600_000)
  t.setUTCSeconds(0, 0)
  return t.toISOString()
}

/** A request body for a session of `minutes` starting `hoursAhead` from now. */
export function slot(
  clock: Clock,
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
  return (await outboxEvents(db))
    .filter((e) => e.data.session_id === sessionId)
    .map(({ type, data }) => ({ type, data }))
}

/** Sets a session's columns directly, to put it in a state for a test. */
export async function force(
  db: Kysely<AcademicDatabase>,
  sessionId: string,
  changes: Partial<AcademicDatabase['class_sessions']>,
) {
  await db.updateTable('class_sessions').set(changes).where('id', '=', sessionId).execute()
}
