import { setTimeout as sleep } from 'node:timers/promises'
import { BASE, sessionsHarness, slot } from './test/sessions-helpers.ts'

const cleanups: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => cleanups.unshift(fn) }
try {
  for (const poll of [50, 200, 1000]) {
    const h = await sessionsHarness(t, {
      clock: { now: () => new Date() } as never,
      bus: { relay: { pollIntervalMs: poll } },
    })
    await h.addTutor('t0')
    for (let i = 0; i < 60; i++) await h.addUser(`s${i}`, 'student')
    for (let i = 0; i < 60; i++) {
      await h.call(`s${i}`, 'POST', BASE, slot(h.clock, 't0', 48))
      await sleep(5)
    }
    await sleep(1500)
    const rows = await h.db
      .selectFrom('bus_outbox')
      .select(['created_at', 'published_at'])
      .execute()
    const d = rows
      .map((r) => (r.published_at?.getTime() ?? NaN) - r.created_at.getTime())
      .sort((a, b) => a - b)
    console.log(`poll ${poll}: created→published p50`, d[Math.floor(d.length / 2)], 'max', d.at(-1))
  }
} finally {
  for (const c of cleanups) await c()
}
