// Booking requests through HTTP with their holds placed: the academic service listening on a
// port with the user-wallet service beside it (each its own database, one broker), a client
// sending POST /academic/class-sessions with CONCURRENCY requests in flight. Two loads: spread
// over 100 tutors, and all on one busy tutor. Prints requests/s (answered 201), holds/s (until
// every session is `authorized`), and the time from sending a request to its session turning
// `authorized` (the academic consumer's commit of wallet.hold.placed), p50 and p99.
//   REQUESTS=1000 CONCURRENCY=32 scripts/tms -F @tms/bench booking
import { performance } from 'node:perf_hooks'
import { bookingSystem } from '../services/academic/test/saga-helpers.ts'
import { BASE, slot } from '../services/academic/test/sessions-helpers.ts'

const REQUESTS = Number(process.env.REQUESTS ?? 1000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)
const TUTORS = 100
const cleanups: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

const authorizedAt = new Map<string, number>()
let allAuthorized: { count: number; resolve: () => void } | undefined

try {
  const sys = await bookingSystem(t, {
    onAcademicEvent(outcome, event) {
      if (outcome !== 'handled' || event?.type !== 'wallet.hold.placed') return
      authorizedAt.set(event.data.session_id, performance.now())
      if (allAuthorized && authorizedAt.size >= allAuthorized.count) allAuthorized.resolve()
    },
  })
  const { academic } = sys
  // A student per request of a load, funded for every load; a hundred tutors at 60.00 an hour.
  const students = Array.from({ length: REQUESTS }, (_, i) => `bench-s${i}`)
  const tutors = Array.from({ length: TUTORS }, (_, i) => `bench-t${i}`)
  for (const id of tutors) await sys.addTutor(id, 6000)
  for (const id of students) await sys.addUser(id, 'student', 1_000_000)
  const tokens = new Map<string, string>()
  for (const id of students) tokens.set(id, await academic.tokenOf(id))
  const base = await academic.app.listen({ host: '127.0.0.1', port: 0 })

  async function load(label: string, tutorOf: (i: number) => string, hoursAhead: number) {
    const sentAt = new Map<string, number>()
    const before = authorizedAt.size
    let next = 0
    let failed = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < REQUESTS; i = next++) {
          const student = students[i] as string
          const body = slot(academic.clock, tutorOf(i), hoursAhead + (i % 24), 60)
          const sent = performance.now()
          const res = await fetch(`${base}${BASE}`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${tokens.get(student)}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify(body),
          })
          const answer = (await res.json()) as { id: string }
          if (res.status === 201) sentAt.set(answer.id, sent)
          else failed++
        }
      }),
    )
    const answered = performance.now()
    await new Promise<void>((resolve) => {
      allAuthorized = { count: before + sentAt.size, resolve }
      if (authorizedAt.size >= allAuthorized.count) resolve()
    })
    const held = performance.now()
    const latencies = [...sentAt].map(([id, sent]) => (authorizedAt.get(id) as number) - sent)
    latencies.sort((a, b) => a - b)
    const seconds = (answered - started) / 1000
    console.log(
      `${label.padEnd(16)} ${sentAt.size} requests (${failed} refused) in ${seconds.toFixed(2)} s: ` +
        `${(sentAt.size / seconds).toFixed(0)} requests/s, ` +
        `${(sentAt.size / ((held - started) / 1000)).toFixed(0)} holds/s; ` +
        `request → authorized p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(1)} ms`,
    )
  }

  console.log(`booking bench: concurrency ${CONCURRENCY}, ${TUTORS} tutors`)
  await load('100 tutors', (i) => tutors[i % TUTORS] as string, 48)
  await load('one busy tutor', () => tutors[0] as string, 24 * 10)
  if ((await sys.ledgerProblems()).length > 0) throw new Error('the wallet ledger is not balanced')
} finally {
  for (const cleanup of cleanups) await cleanup()
}
