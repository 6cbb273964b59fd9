// 10 MiB document uploads through HTTP to a real academic service (a child process listening
// on a port, its own database, broker names and store), one at a time and 8 at once, against
// writing the same bytes straight to the same store from this process. Prints, per driver:
// - the service's peak RSS growth per concurrent upload: the kernel's high-water mark of the
//   child's resident memory (VmHWM, reset through /proc/<pid>/clear_refs before the run) above
//   its resident memory just before (goal: at most 2 MiB per upload);
// - the upload throughput over the direct writes' throughput at the same concurrency (goal: at
//   least 0.7).
//   TEST_MYSQL_URL=… TEST_AMQP_URL=… node bench/uploads.bench.ts [local|s3|both] [rounds]
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { createBus } from '@tms/bus'
import { createDb } from '@tms/db'
import { createLogger } from '@tms/logging'
import {
  createTestBroker,
  createTestDatabase,
  createTestIssuer,
  eventually,
  s3Server,
  uniqueBucketName,
} from '@tms/testing'
import { LocalDocumentStore } from '../services/academic/src/storage/local.ts'
import { S3DocumentStore, type S3Settings } from '../services/academic/src/storage/s3.ts'
import { type DocumentStore, newStorageKey } from '../services/academic/src/storage/store.ts'

const which = process.argv[2] ?? 'both'
const rounds = Number(process.argv[3] ?? 3)
const CONCURRENT = 8
const SIZE = 10 * 1024 * 1024
const MiB = 1024 * 1024
const mainFile = new URL('../services/academic/src/main.ts', import.meta.url).pathname

const teardowns: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => void teardowns.unshift(fn) }
const logger = createLogger({ service: 'bench', level: 'warn' })

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The child's resident memory now and its high-water mark, in bytes (Linux /proc). */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Resets the child's high-water mark to its current resident memory. */
async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5')
}

interface Service {
  url: string
  pid: number
  stop(): Promise<void>
}

async function startService(env: Record<string, string>): Promise<Service> {
  const port = await freePort()
  const child = spawn(process.execPath, [mainFile], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  await eventually(async () => child.exitCode === null && (await fetch(`${url}/health/ready`)).ok, {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'the academic service to be ready',
  })
  return {
    url,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(SIZE - 9)])
let tutors = 0

async function upload(service: Service, issuer: Awaited<ReturnType<typeof createTestIssuer>>) {
  const n = ++tutors
  const token = await issuer.mint({ sub: `bench-tutor-${n}`, role: 'tutor', username: `tutor${n}` })
  const form = new FormData()
  form.append('bio', 'Benchmark tutor')
  form.append('subjects', 'maths')
  form.append('hourly_rate', '2500')
  form.append('cv', new Blob([pdf], { type: 'application/pdf' }), 'cv.pdf')
  const res = await fetch(`${service.url}/academic/tutor-profiles`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  })
  const body = await res.text()
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${body}`)
}

function chunks(bytes: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += 65536) yield bytes.subarray(at, at + 65536)
    })(),
  )
}

async function direct(store: DocumentStore) {
  await store.put(newStorageKey(), chunks(pdf), { size: SIZE, contentType: 'application/pdf' })
}

/** Runs `count` of `one` at a time `width` wide; bytes per second. */
async function throughput(count: number, width: number, one: () => Promise<void>) {
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next++ < count) await one()
    }),
  )
  return (count * SIZE) / ((performance.now() - started) / 1000)
}

async function bench(driver: 'local' | 's3') {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'bench-uploads-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const dbUrl = await createTestDatabase(t)
  const broker = await createTestBroker()
  const issuer = await createTestIssuer()
  const env: Record<string, string> = {
    DATABASE_URL: dbUrl,
    AMQP_URL: broker.url,
    BUS_PREFIX: broker.prefix,
    JWKS_URL: await issuer.serveJwks(t),
    JWT_ISSUER: issuer.issuer,
    DATA_DIR: dataDir,
  }
  let store: DocumentStore
  if (driver === 's3') {
    const server = await s3Server()
    const settings: S3Settings = { ...server, bucket: uniqueBucketName('bench') }
    Object.assign(env, {
      S3_ENDPOINT: settings.endpoint,
      S3_ACCESS_KEY: settings.accessKey,
      S3_SECRET_KEY: settings.secretKey,
      S3_BUCKET: settings.bucket,
      S3_REGION: settings.region,
    })
    const s3 = new S3DocumentStore(settings)
    t.teardown(async () => {
      for await (const item of s3.client.listObjectsV2(settings.bucket, '', true)) {
        if (item.name) await s3.client.removeObject(settings.bucket, item.name)
      }
      await s3.client.removeBucket(settings.bucket)
      s3.close()
    })
    store = s3
  } else {
    store = new LocalDocumentStore(dataDir)
  }
  const service = await startService(env)
  t.teardown(async () => {
    await service.stop()
    // The service declared its queues under the broker prefix; they go with the bench.
    const db = createDb(dbUrl, { poolSize: 1 })
    await createBus({ service: 'academic', url: broker.url, prefix: broker.prefix, db, logger })
      .deleteTopology()
      .finally(() => db.destroy())
  })
  await store.init()

  // Warm up both paths (JIT, connections, the database's first inserts).
  await upload(service, issuer)
  await direct(store)

  const results: {
    sequentialUpload: number
    sequentialDirect: number
    concurrentUpload: number
    concurrentDirect: number
    rssGrowthPerUpload: number
    rssBefore: number
  }[] = []
  for (let round = 0; round < rounds; round++) {
    const sequentialUpload = await throughput(4, 1, () => upload(service, issuer))
    const sequentialDirect = await throughput(4, 1, () => direct(store))

    await sleep(200)
    await resetPeak(service.pid)
    const before = await memoryOf(service.pid)
    const concurrentUpload = await throughput(CONCURRENT, CONCURRENT, () => upload(service, issuer))
    const after = await memoryOf(service.pid)
    const concurrentDirect = await throughput(CONCURRENT, CONCURRENT, () => direct(store))
    results.push({
      sequentialUpload,
      sequentialDirect,
      concurrentUpload,
      concurrentDirect,
      rssGrowthPerUpload: (after.hwm - before.rss) / CONCURRENT,
      rssBefore: before.rss,
    })
  }
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const pick = (key: keyof (typeof results)[number]) => median(results.map((r) => r[key]))
  const mbps = (bytesPerSecond: number) => `${(bytesPerSecond / MiB).toFixed(1)} MiB/s`
  const seqRatio = pick('sequentialUpload') / pick('sequentialDirect')
  const conRatio = pick('concurrentUpload') / pick('concurrentDirect')
  const growth = pick('rssGrowthPerUpload') / MiB
  console.log(`\n${driver} driver (median of ${rounds} rounds; ${SIZE / MiB} MiB per upload)`)
  console.log(
    `  one at a time: upload ${mbps(pick('sequentialUpload'))}, direct ${mbps(pick('sequentialDirect'))}, ratio ${seqRatio.toFixed(2)}`,
  )
  console.log(
    `  ${CONCURRENT} at once:     upload ${mbps(pick('concurrentUpload'))}, direct ${mbps(pick('concurrentDirect'))}, ratio ${conRatio.toFixed(2)} (goal ≥ 0.7)`,
  )
  console.log(
    `  service RSS ${(pick('rssBefore') / MiB).toFixed(0)} MiB before; peak growth per concurrent upload ${growth.toFixed(2)} MiB (goal ≤ 2)`,
  )
  console.log(
    `  rounds: ${results.map((r) => `${(r.rssGrowthPerUpload / MiB).toFixed(2)} MiB, ${(r.concurrentUpload / r.concurrentDirect).toFixed(2)}`).join('; ')}`,
  )
}

try {
  if (which === 'local' || which === 'both') await bench('local')
  if (which === 's3' || which === 'both') await bench('s3')
} finally {
  for (const fn of teardowns) await fn()
}
