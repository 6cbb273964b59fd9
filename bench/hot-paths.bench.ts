// The hot paths of issue 15, each next to its bare baseline, in one run on this machine:
//   1. GET / of user-wallet                 vs raw node:http hello
//   2. GET /user/me (token, profile, balances) vs Fastify (no logger) + one mysql2 PK read
//   3. POST /user/{id}/debit on one wallet  vs raw mysql2 SELECT … FOR UPDATE + UPDATE + INSERT
//                                              transactions on one row, 16 connections
//   4. captures over 100 students and 100 tutors vs deposits over 100 wallets, through the
//      wallet's posting code (db/ledger.ts), 16 concurrent transactions
// HTTP rows: autocannon, 50 connections, against the user-wallet service started as
// `scripts/tms up` starts it (`node src/main.ts`, NODE_ENV=development, LOG_LEVEL=info, logs
// to a file) on a database of the bench's own (the service creates and migrates it) and a JWKS
// from a test issuer; the baselines run as processes of their own too (baselines.ts). Each
// side is warmed up, then measured for DURATION seconds. While the database rows run, the
// database's own view of lock waits is sampled (information_schema.INNODB_LOCK_WAITS).
// Figures are printed, never asserted.
//
//   scripts/tms -F @tms/bench hot
//   DURATION=10 BENCH_ONLY=hello,me,debit,ledger PROFILE=1 node bench/hot-paths.bench.ts
// PROFILE=1 runs the service with --cpu-prof and prints where its CPU time went.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createBus } from '@tms/bus'
import { createDb, dropDatabase, sql, transaction } from '@tms/db'
import { createLogger } from '@tms/logging'
import { amqpServerUrl, createTestIssuer, mysqlServerUrl, uniqueName } from '@tms/testing'
import autocannon from 'autocannon'
import { createConnection, createPool } from 'mysql2/promise'
import { post } from '../services/user-wallet/src/db/ledger.ts'
import type { WalletDatabase } from '../services/user-wallet/src/db/schema.ts'
import { capture, deposit, hold } from '../services/user-wallet/src/domain/ledger.ts'
import { addUser } from '../services/user-wallet/test/helpers.ts'
import { printProfile } from './cpu-profile.ts'

const DURATION = Number(process.env.DURATION ?? 10)
const WARMUP = Number(process.env.WARMUP ?? 3)
const CONNECTIONS = 50
const DB_CONCURRENCY = 16
/** Each side of a row is measured this many times, alternating, and the counts added up. */
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const only = new Set((process.env.BENCH_ONLY ?? 'hello,me,debit,ledger').split(','))
const profiling = process.env.PROFILE === '1'

const root = path.resolve(import.meta.dirname, '..')
const workDir = path.join(tmpdir(), `tms-bench-hot-${process.pid}`)
mkdirSync(workDir, { recursive: true })
const cleanups: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) }

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A process of its own, its output in a file; resolves once `ready()` says so. */
async function startProcess(
  name: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; ready: () => Promise<boolean> },
): Promise<ChildProcess> {
  const log = openSync(path.join(workDir, `${name}.log`), 'a')
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', log, log],
  })
  let exited = false
  child.on('exit', () => {
    exited = true
  })
  t.teardown(async () => {
    if (exited) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([gone, sleep(15_000)])
  })
  const started = performance.now()
  while (!(await options.ready().catch(() => false))) {
    if (exited) throw new Error(`${name} exited at start; see ${workDir}/${name}.log`)
    if (performance.now() - started > 60_000) throw new Error(`${name} not ready in 60 s`)
    await sleep(100)
  }
  return child
}

const answersOk = (url: string) => async () =>
  (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok

interface HttpFigures {
  perSecond: number
  p50: number
  p99: number
  failures: number
  /** CPU time of the server's process per answered request, in microseconds. */
  cpuUs: number
}

/** The CPU time a process has used, in seconds (Linux: /proc/<pid>/stat, in clock ticks). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

type LoadOptions = {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

/**
 * autocannon, 50 connections, DURATION seconds (after a warm-up when `warm`), against the
 * server process `server` (whose CPU time per request is measured too).
 */
async function load(
  server: ChildProcess,
  url: string,
  options: LoadOptions,
  warm: boolean,
): Promise<HttpFigures> {
  const run = (duration: number) =>
    autocannon({ url, connections: CONNECTIONS, duration, ...options })
  if (warm) await run(WARMUP)
  const cpuBefore = cpuSeconds(server.pid)
  const result = await run(DURATION)
  const cpu = cpuSeconds(server.pid) - cpuBefore
  return {
    perSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
    cpuUs: (cpu / Math.max(1, result['2xx'])) * 1e6,
  }
}

/** The mean of the rounds' figures (rates and latencies alike), failures added up. */
function mean(figures: HttpFigures[]): HttpFigures {
  const avg = (f: (x: HttpFigures) => number) =>
    figures.reduce((sum, x) => sum + f(x), 0) / figures.length
  return {
    perSecond: avg((x) => x.perSecond),
    p50: avg((x) => x.p50),
    p99: avg((x) => x.p99),
    failures: figures.reduce((sum, x) => sum + x.failures, 0),
    cpuUs: avg((x) => x.cpuUs),
  }
}

/**
 * Ours and the baseline, ROUNDS times each, alternating (the machine's other load changes
 * from second to second: both sides see it alike).
 */
async function alternate<A, B>(
  ours: (round: number) => Promise<A>,
  baseline: (round: number) => Promise<B>,
) {
  const a: A[] = []
  const b: B[] = []
  for (let round = 0; round < ROUNDS; round++) {
    a.push(await ours(round))
    b.push(await baseline(round))
  }
  return [a, b] as const
}

/** `jobs` run with `concurrency` workers until `seconds` have passed: completed per second. */
async function forSeconds(
  seconds: number,
  concurrency: number,
  job: (worker: number, i: number) => Promise<void>,
): Promise<number> {
  const deadline = performance.now() + seconds * 1000
  let next = 0
  let done = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        await job(worker, next++)
        done++
      }
    }),
  )
  return done / ((performance.now() - started) / 1000)
}

/**
 * The database's view of lock waits on the bench's tables, sampled every 100 ms while the
 * measurements given to `during` run: how many transactions wait at a time, and on which lock
 * (table, index, the row's key); and the server's own counters (every database's waits).
 */
function lockWaits(serverUrl: string, database: string) {
  const counts = new Map<string, number>()
  let samples = 0
  let waiting = 0
  const server = { waits: 0, waitMs: 0 }
  const status = async (conn: Awaited<ReturnType<typeof createConnection>>) => {
    const [rows] = await conn.query(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_row_lock_time')",
    )
    const values = Object.fromEntries(
      (rows as { Variable_name: string; Value: string }[]).map((r) => [
        r.Variable_name,
        Number(r.Value),
      ]),
    )
    return { waits: values.Innodb_row_lock_waits ?? 0, waitMs: values.Innodb_row_lock_time ?? 0 }
  }
  return {
    async during<T>(measure: () => Promise<T>): Promise<T> {
      const conn = await createConnection({ uri: serverUrl })
      let stopped = false
      const sampling = (async () => {
        const before = await status(conn)
        while (!stopped) {
          // One row per (waiting transaction, lock it waits behind): count each waiter once.
          // MariaDB's tables; MySQL 8 has performance_schema.data_lock_waits instead.
          const [rows] = await conn
            .query(
              `SELECT DISTINCT w.requesting_trx_id AS trx, l.lock_table AS tbl, l.lock_index AS idx,
               l.lock_data AS data
             FROM information_schema.INNODB_LOCK_WAITS w
             JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id
             WHERE l.lock_table LIKE ?`,
              [`\`${database}\`.%`],
            )
            .catch(() => [[]] as unknown as [unknown[]])
          samples++
          for (const r of rows as { tbl: string; idx: string; data: string }[]) {
            waiting++
            const key = `${r.tbl.replace(`\`${database}\`.`, '')} ${r.idx ?? ''} ${r.data ?? ''}`
            counts.set(key, (counts.get(key) ?? 0) + 1)
          }
          await sleep(100)
        }
        const after = await status(conn)
        server.waits += after.waits - before.waits
        server.waitMs += after.waitMs - before.waitMs
      })()
      try {
        return await measure()
      } finally {
        stopped = true
        await sampling
        await conn.end()
      }
    },
    report(label: string): string {
      const per = (n: number) => (n / Math.max(1, samples)).toFixed(1)
      const top = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([k, n]) => `${k.trim()} (${per(n)})`)
      return [
        `  ${label}: ${per(waiting)} transactions waiting for a lock on average (${samples} samples)`,
        `    waited on (waiters on average): ${top.length > 0 ? top.join('; ') : 'nothing seen'}`,
        `    server-wide counters (every database): ${server.waits} row-lock waits, ${server.waitMs} ms waited`,
      ].join('\n')
    },
  }
}

const rows: string[][] = []
function row(path: string, ours: string, baseline: string, ratio: number, goal: number) {
  rows.push([
    path,
    ours,
    baseline,
    ratio.toFixed(2),
    `≥ ${goal}`,
    ratio >= goal ? 'met' : 'not met',
  ])
  console.log(`  ${path}: ${ours} vs ${baseline}: ratio ${ratio.toFixed(2)} (goal ${goal})`)
}
const rate = (n: number) => `${n.toFixed(0)}/s`
const http = (f: HttpFigures) =>
  `${rate(f.perSecond)} (p50 ${f.p50} ms, p99 ${f.p99} ms, ${f.cpuUs.toFixed(0)} µs CPU/request${f.failures ? `, ${f.failures} failed!` : ''})`

// --- set-up ---------------------------------------------------------------------------------
const server = (await mysqlServerUrl()).replace(/\/$/, '')
const database = `bench_hot_${process.pid}`
const databaseUrl = `${server}/${database}`
const amqpUrl = await amqpServerUrl()
const prefix = `${uniqueName('bench')}.`
const issuer = await createTestIssuer()
const jwksUrl = await issuer.serveJwks(t)
const logger = createLogger({ service: 'bench', level: 'warn' })
t.teardown(() => dropDatabase(databaseUrl))
t.teardown(() =>
  createBus({ service: 'user-wallet', url: amqpUrl, prefix, db: {} as never, logger })
    .deleteTopology()
    .catch(() => {}),
)

try {
  const walletPort = await freePort()
  const wallet = `http://127.0.0.1:${walletPort}`
  const walletArgs = profiling ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`] : []
  const service = await startProcess('user-wallet', [...walletArgs, 'src/main.ts'], {
    cwd: path.join(root, 'services/user-wallet'),
    env: {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      DATA_DIR: path.join(workDir, 'data'),
      PORT: String(walletPort),
      METRICS_PORT: String(await freePort()),
      DATABASE_URL: databaseUrl,
      AMQP_URL: amqpUrl,
      BUS_PREFIX: prefix,
      JWKS_URL: jwksUrl,
      JWT_ISSUER: issuer.issuer,
    },
    ready: answersOk(`${wallet}/health/ready`),
  })

  // Users: an admin, a reader, one wallet with money to debit, 100 students with money held
  // for sessions, 100 tutors, 100 wallets to deposit into.
  const db = createDb<WalletDatabase>(databaseUrl, { poolSize: DB_CONCURRENCY })
  t.teardown(() => db.destroy())
  const ids = (p: string) => Array.from({ length: 100 }, (_, i) => `${p}${i}`)
  const students = ids('student-')
  const tutors = ids('tutor-')
  const depositWallets = ids('wallet-')
  const users: [string, 'admin' | 'student' | 'tutor'][] = [
    ['bench-admin', 'admin'],
    ['bench-reader', 'student'],
    ['bench-debited', 'student'],
    ...students.map((s) => [s, 'student'] as [string, 'student']),
    ...tutors.map((s) => [s, 'tutor'] as [string, 'tutor']),
    ...depositWallets.map((s) => [s, 'student'] as [string, 'student']),
  ]
  for (const [id, role] of users) await addUser(db, id, role)
  const move = (m: Parameters<typeof post>[1]) =>
    transaction(db, (trx) => post(trx, m, { now: new Date() }))
  for (const [id] of users) await move(deposit(id, 1_000_000_000_000))
  for (const s of students) await move(hold(s, 500_000_000_000))

  const adminToken = await issuer.mint(
    { sub: 'bench-admin', role: 'admin', username: 'bench-admin' },
    { expiresIn: 3600 },
  )
  const readerToken = await issuer.mint(
    { sub: 'bench-reader', role: 'student', username: 'bench-reader' },
    { expiresIn: 3600 },
  )
  console.log(
    `hot paths: ${DURATION} s measured after ${WARMUP} s of warm-up, ${CONNECTIONS} connections; logs in ${workDir}`,
  )

  if (only.has('hello')) {
    const port = await freePort()
    const rawHello = await startProcess(
      'raw-hello',
      [path.join(import.meta.dirname, 'baselines.ts'), 'hello', String(port)],
      {
        cwd: root,
        ready: answersOk(`http://127.0.0.1:${port}/`),
      },
    )
    const [a, b] = await alternate(
      (round) => load(service, `${wallet}/`, {}, round === 0),
      (round) => load(rawHello, `http://127.0.0.1:${port}/`, {}, round === 0),
    )
    const [ours, raw] = [mean(a), mean(b)]
    row(
      'GET / of user-wallet',
      http(ours),
      `raw node:http ${http(raw)}`,
      ours.perSecond / raw.perSecond,
      0.8,
    )
  }

  if (only.has('me')) {
    const port = await freePort()
    const fastifyRead = await startProcess(
      'fastify-read',
      [path.join(import.meta.dirname, 'baselines.ts'), 'read', String(port), databaseUrl],
      { cwd: root, ready: answersOk(`http://127.0.0.1:${port}/me/bench-reader`) },
    )
    const me = { headers: { authorization: `Bearer ${readerToken}` } }
    const [a, b] = await alternate(
      (round) => load(service, `${wallet}/user/me`, me, round === 0),
      (round) => load(fastifyRead, `http://127.0.0.1:${port}/me/bench-reader`, {}, round === 0),
    )
    const [ours, bare] = [mean(a), mean(b)]
    row(
      'GET /user/me',
      http(ours),
      `Fastify + mysql2 PK read ${http(bare)}`,
      ours.perSecond / bare.perSecond,
      0.7,
    )
  }

  if (only.has('debit')) {
    await sql`CREATE TABLE raw_account (id INT PRIMARY KEY, balance BIGINT NOT NULL)`.execute(db)
    await sql`CREATE TABLE raw_entry (id BIGINT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, amount BIGINT NOT NULL)`.execute(
      db,
    )
    await sql`INSERT INTO raw_account VALUES (1, 1000000000000)`.execute(db)
    const pool = createPool({ uri: databaseUrl, connectionLimit: DB_CONCURRENCY })
    t.teardown(() => pool.end())
    const connections = await Promise.all(
      Array.from({ length: DB_CONCURRENCY }, () => pool.getConnection()),
    )
    const rawTransaction = async (worker: number) => {
      const conn = connections[worker] as (typeof connections)[number]
      await conn.query('BEGIN')
      const [locked] = await conn.query('SELECT balance FROM raw_account WHERE id = 1 FOR UPDATE')
      const balance = Number((locked as { balance: number }[])[0]?.balance)
      await conn.query('UPDATE raw_account SET balance = ? WHERE id = 1', [balance - 1])
      await conn.query('INSERT INTO raw_entry (account_id, amount) VALUES (1, -1)')
      await conn.query('COMMIT')
    }
    const debit = {
      method: 'POST' as const,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 1, reason: 'bench' }),
    }
    const oursWaits = lockWaits(server, database)
    const rawWaits = lockWaits(server, database)
    const [a, b] = await alternate(
      (round) =>
        oursWaits.during(() =>
          load(service, `${wallet}/user/bench-debited/debit`, debit, round === 0),
        ),
      async (round) => {
        if (round === 0) await forSeconds(WARMUP, DB_CONCURRENCY, rawTransaction)
        return rawWaits.during(() => forSeconds(DURATION, DB_CONCURRENCY, rawTransaction))
      },
    )
    for (const c of connections) c.release()
    const [ours, raw] = [mean(a), b.reduce((x, y) => x + y, 0) / b.length]
    console.log(oursWaits.report('debits through HTTP, one wallet'))
    console.log(rawWaits.report('raw locked transactions, one row'))
    row(
      'POST /user/{id}/debit, one wallet',
      http(ours),
      `raw SELECT FOR UPDATE + UPDATE + INSERT, 16 connections ${rate(raw)}`,
      ours.perSecond / raw,
      0.6,
    )
  }

  if (only.has('ledger')) {
    const pick = (list: string[], i: number) => list[i % list.length] as string
    const captureJob = (_: number, i: number) =>
      move(capture(pick(students, i), pick(tutors, i * 7 + 3), 10, 1)).then(() => {})
    const depositJob = (_: number, i: number) =>
      move(deposit(pick(depositWallets, i), 1)).then(() => {})
    const captureWaits = lockWaits(server, database)
    const depositWaits = lockWaits(server, database)
    const timed = async (job: typeof captureJob, round: number) => {
      if (round === 0) await forSeconds(WARMUP, DB_CONCURRENCY, job)
      return forSeconds(DURATION, DB_CONCURRENCY, job)
    }
    const [a, b] = await alternate(
      (round) => captureWaits.during(() => timed(captureJob, round)),
      (round) => depositWaits.during(() => timed(depositJob, round)),
    )
    const [captures, deposits] = [a, b].map((x) => x.reduce((p, q) => p + q, 0) / x.length) as [
      number,
      number,
    ]
    console.log(captureWaits.report('captures over 100 students and 100 tutors'))
    console.log(depositWaits.report('deposits over 100 wallets'))
    row(
      'captures over 100 students, 100 tutors',
      rate(captures),
      `deposits over 100 wallets ${rate(deposits)}`,
      captures / deposits,
      0.8,
    )
  }

  console.log('\n| path | ours | bare baseline in the same run | ratio | goal | |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
} finally {
  for (const cleanup of cleanups) await cleanup()
}

if (profiling) {
  for (const file of readdirSync(workDir).filter((f) => f.endsWith('.cpuprofile'))) {
    printProfile(path.join(workDir, file), 25)
  }
}
