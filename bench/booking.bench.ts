// Booking requests through HTTP with their holds placed. The academic and user-wallet services
// run as they do in production, each its own process (`node src/main.ts`), database and
// listener, on one broker prefix; this process is only the client: it seeds tutors and funded
// students straight into the two databases, then sends POST /academic/class-sessions with
// CONCURRENCY requests in flight, over 100 tutors and then all to one busy tutor (after a
// warm-up of the same size), and last one request at a time. It prints requests/s (answered 201), holds/s
// (until every session is `authorized`) and the time from sending a request to its session
// turning `authorized`: the academic service's commit of wallet.hold.placed (the session's
// updated_at, in ms), p50 and p99.
//   REQUESTS=1000 CONCURRENCY=32 scripts/tms -F @tms/bench booking
import { once } from 'node:events'
import { createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { deleteTopology } from '@tms/bus'
import { systemClock } from '@tms/clock'
import { createDb, dropDatabase, ensureDatabase, type Kysely, transaction } from '@tms/db'
import { type PartName, parts, ServiceProcess } from '@tms/system'
import { amqpServerUrl, createTestIssuer, mysqlServerUrl } from '@tms/testing'
import type { AcademicDatabase } from '../services/academic/src/db/schema.ts'
import { upsertUser } from '../services/academic/src/db/users.ts'
import { BASE, slot, tutorProfile } from '../services/academic/test/sessions-helpers.ts'
import { post } from '../services/user-wallet/src/db/ledger.ts'
import type { WalletDatabase } from '../services/user-wallet/src/db/schema.ts'
import { deposit } from '../services/user-wallet/src/domain/ledger.ts'
import { addUser as addWalletUser } from '../services/user-wallet/test/helpers.ts'

const REQUESTS = Number(process.env.REQUESTS ?? 1000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)
const TUTORS = 100
const root = new URL('..', import.meta.url).pathname
const cleanups: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

/** A service's main.ts as its own process (@tms/system), waited for until it is ready. */
async function startService(name: PartName, env: Record<string, string>): Promise<string> {
  const service = new ServiceProcess({
    root,
    part: parts[name],
    port: await freePort(),
    env: { ...env, METRICS_PORT: '0', LOG_LEVEL: 'warn' },
    onLine: (line) => console.error(JSON.stringify(line)),
  })
  service.start()
  t.teardown(() => service.stop())
  await service.waitReady()
  return service.url
}

try {
  const mysql = (await mysqlServerUrl()).replace(/\/$/, '')
  const academicUrl = `${mysql}/bench_academic_${process.pid}`
  const walletUrl = `${mysql}/bench_wallet_${process.pid}`
  for (const url of [academicUrl, walletUrl]) {
    await ensureDatabase(url)
    t.teardown(() => dropDatabase(url))
  }
  const prefix = `bench_${process.pid}.`
  const amqp = await amqpServerUrl()
  t.teardown(() => deleteTopology({ url: amqp, prefix }))
  const issuer = await createTestIssuer()
  const shared = {
    AMQP_URL: amqp,
    BUS_PREFIX: prefix,
    JWT_ISSUER: issuer.issuer,
    JWKS_URL: await issuer.serveJwks(t),
  }
  const academicHttp = await startService('academic', {
    ...shared,
    DATABASE_URL: academicUrl,
    PLATFORM_FEE_BPS: '1000',
  })
  await startService('user-wallet', { ...shared, DATABASE_URL: walletUrl })

  const academicDb: Kysely<AcademicDatabase> = createDb(academicUrl, { poolSize: 4 })
  const walletDb: Kysely<WalletDatabase> = createDb(walletUrl, { poolSize: 4 })
  t.teardown(() => academicDb.destroy())
  t.teardown(() => walletDb.destroy())

  // A student per request of a load, funded for every load; a hundred tutors at 60.00 an hour.
  const students = Array.from({ length: REQUESTS }, (_, i) => `bench-s${i}`)
  const tutors = Array.from({ length: TUTORS }, (_, i) => `bench-t${i}`)
  const now = new Date()
  for (const [ids, role] of [
    [tutors, 'tutor'],
    [students, 'student'],
  ] as const) {
    for (const id of ids) {
      await upsertUser(academicDb, { user_id: id, username: id, name: null, role, updated_at: now })
      await addWalletUser(walletDb, id, role)
    }
  }
  for (const id of students) {
    await transaction(walletDb, (trx) => post(trx, deposit(id, 10_000_000), { now }))
  }
  await academicDb
    .insertInto('tutor_profiles')
    .values(tutors.map((id) => tutorProfile(id, 6000, now)))
    .execute()
  const tokens = new Map<string, string>()
  for (const id of students) {
    tokens.set(id, await issuer.mint({ sub: id, role: 'student', username: id }))
  }

  /** Runs a load; `hoursAhead` keeps each load's sessions apart from the others'. */
  async function load(
    label: string,
    count: number,
    concurrency: number,
    tutorOf: (i: number) => string,
    hoursAhead: number,
  ) {
    const sentAt = new Map<string, number>()
    let next = 0
    let refused = 0
    const started = performance.now()
    const startedWall = Date.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < count; i = next++) {
          const student = students[i] as string
          const body = slot(systemClock, tutorOf(i), hoursAhead + (i % 24), 60)
          const sent = Date.now()
          const res = await fetch(`${academicHttp}${BASE}`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${tokens.get(student)}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify(body),
          })
          const answer = (await res.json()) as { id: string }
          if (res.status === 201) sentAt.set(answer.id, sent)
          else refused++
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const ids = [...sentAt.keys()]
    let rows: { id: string; updated_at: Date }[] = []
    for (;;) {
      rows = await academicDb
        .selectFrom('class_sessions')
        .select(['id', 'updated_at'])
        .where('id', 'in', ids)
        .where('payment_status', '=', 'authorized')
        .execute()
      if (rows.length === ids.length) break
      await sleep(50)
    }
    const latencies = rows
      .map((r) => r.updated_at.getTime() - (sentAt.get(r.id) as number))
      .sort((a, b) => a - b)
    const lastHeld = Math.max(...rows.map((r) => r.updated_at.getTime()))
    if (!label) return
    console.log(
      `${label.padEnd(18)} ${ids.length} requests (${refused} refused) in ${seconds.toFixed(2)} s: ` +
        `${(ids.length / seconds).toFixed(0)} requests/s, ` +
        `${((ids.length * 1000) / (lastHeld - startedWall)).toFixed(0)} holds/s; ` +
        `request → authorized p50 ${percentile(latencies, 50).toFixed(0)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(0)} ms`,
    )
  }

  console.log(
    `booking bench: ${REQUESTS} requests per load, concurrency ${CONCURRENCY}, ${TUTORS} tutors; academic and user-wallet as processes`,
  )
  // A warm-up touching every student and tutor once, so no load pays for first touches.
  await load('', REQUESTS, CONCURRENCY, (i) => tutors[i % TUTORS] as string, 24)
  await load('100 tutors', REQUESTS, CONCURRENCY, (i) => tutors[i % TUTORS] as string, 48)
  await load('one busy tutor', REQUESTS, CONCURRENCY, () => tutors[0] as string, 24 * 5)
  await load(
    'one at a time',
    Math.min(200, REQUESTS),
    1,
    (i) => tutors[i % TUTORS] as string,
    24 * 10,
  )
} finally {
  for (const cleanup of cleanups) await cleanup()
}
