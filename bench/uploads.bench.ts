// 10 MiB document uploads through HTTP to a real academic service (a child process listening
// on a port, its own database, broker names and store), one at a time and 8 at once, against
// writing the same bytes straight to the same store from this process. Prints, per driver:
// - the service's peak RSS growth per concurrent upload: the kernel's high-water mark of the
//   child's resident memory (VmHWM, reset through /proc/<pid>/clear_refs before the run) above
//   its resident memory just before (goal: at most 2 MiB per upload);
// - the upload throughput over the direct writes' throughput at the same concurrency (goal: at
//   least 0.7).
//   TEST_MYSQL_URL=… TEST_AMQP_URL=… node bench/uploads.bench.ts [local|s3|both] [rounds]
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { loadavg } from 'node:os'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TestIssuer } from '@tms/testing'
import { createDocumentStore } from '../services/academic/src/storage/index.ts'
import { type DocumentStore, newStorageKey } from '../services/academic/src/storage/store.ts'
import { multipartBody } from '../services/academic/test/profile-helpers.ts'
import {
  type ServiceProcess,
  serviceSetting,
  startServiceProcess,
} from '../services/academic/test/service-process.ts'

const which = process.argv[2] ?? 'both'
const rounds = Number(process.argv[3] ?? 3)
const CONCURRENT = 8
const SIZE = 10 * 1024 * 1024
const MiB = 1024 * 1024
const agent = new http.Agent({ keepAlive: true })

const teardowns: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => void teardowns.unshift(fn) }

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

const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(SIZE - 9)])
let tutors = 0

/** The form, encoded once: the client's own cost should not count against the service. */
const form = await multipartBody(
  { bio: 'Benchmark tutor', subjects: 'maths', hourly_rate: '2500' },
  [{ field: 'cv', bytes: pdf, filename: 'cv.pdf', type: 'application/pdf' }],
)

async function upload(service: ServiceProcess, issuer: TestIssuer) {
  const n = ++tutors
  const token = await issuer.mint({ sub: `bench-tutor-${n}`, role: 'tutor', username: `tutor${n}` })
  const { status, body } = await new Promise<{ status: number; body: string }>(
    (resolve, reject) => {
      const request = http.request(`${service.url}/academic/tutor-profiles`, {
        method: 'POST',
        agent,
        headers: {
          ...form.headers,
          'content-length': String(form.payload.length),
          authorization: `Bearer ${token}`,
        },
      })
      request.once('error', reject)
      request.once('response', async (response) => {
        let text = ''
        for await (const chunk of response) text += chunk
        resolve({ status: response.statusCode ?? 0, body: text })
      })
      request.end(form.payload)
    },
  )
  if (status !== 201) throw new Error(`upload answered ${status}: ${body}`)
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
  const setting = await serviceSetting(t, driver)
  const issuer = setting.issuer
  const service = await startServiceProcess(t, { ...setting.env, LOG_LEVEL: 'warn' })
  // The same store the service writes to, written to straight from here.
  const store: DocumentStore = createDocumentStore(setting.storage)
  t.teardown(() => store.close())
  await store.init()

  const atStart = await memoryOf(service.pid)
  // Warm up both paths (JIT, connections, the database's first inserts).
  await upload(service, issuer)
  await direct(store)
  const warm = await memoryOf(service.pid)
  console.log(
    `\n${driver}: load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; service RSS ` +
      `${(atStart.rss / MiB).toFixed(0)} MiB when ready, ${(warm.rss / MiB).toFixed(0)} MiB after one upload`,
  )

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
  const mbps = (bytesPerSecond: number) => `${(bytesPerSecond / MiB).toFixed(0)} MiB/s`
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`
  console.log(
    `${driver} driver, ${rounds} rounds of 4 uploads one at a time and ${CONCURRENT} at once:`,
  )
  for (const [i, r] of results.entries()) {
    console.log(
      `  round ${i + 1}: one at a time ${mbps(r.sequentialUpload)} vs direct ${mbps(r.sequentialDirect)} ` +
        `(${(r.sequentialUpload / r.sequentialDirect).toFixed(2)}); ${CONCURRENT} at once ` +
        `${mbps(r.concurrentUpload)} vs ${mbps(r.concurrentDirect)} ` +
        `(${(r.concurrentUpload / r.concurrentDirect).toFixed(2)}); RSS ${mib(r.rssBefore)} before, ` +
        `peak growth ${mib(r.rssGrowthPerUpload)} per upload`,
    )
  }
  const worstGrowth = Math.max(...results.map((r) => r.rssGrowthPerUpload))
  console.log(
    `  => throughput ratio (median): one at a time ${(pick('sequentialUpload') / pick('sequentialDirect')).toFixed(2)}, ` +
      `${CONCURRENT} at once ${(pick('concurrentUpload') / pick('concurrentDirect')).toFixed(2)} (goal >= 0.7); ` +
      `peak RSS growth per concurrent upload: worst ${mib(worstGrowth)}, median ${mib(pick('rssGrowthPerUpload'))} (goal <= 2 MiB)`,
  )
}

try {
  if (which === 'local' || which === 'both') await bench('local')
  if (which === 's3' || which === 'both') await bench('s3')
} finally {
  for (const fn of teardowns) await fn()
}
