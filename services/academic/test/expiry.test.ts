// The expiry job on the real database: requests unanswered at their start are cancelled
// (`expired`, their holds released through the cancelled event), once each however many
// replicas run it at once, and all of them however long the service was down.
import t from 'tap'
import { BASE, force, sessionsHarness, slot } from './sessions-helpers.ts'

t.test('two replicas at once cancel each due request once; a backlog is caught up', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  const ids: string[] = []
  // 150 requests (more than one batch of 100) starting over the next days, and one accepted.
  for (let i = 0; i < 150; i++) {
    await h.addUser(`s${i}`, 'student')
    const res = await h.call(`s${i}`, 'POST', BASE, slot(h.clock, 'tut', 1 + i))
    ids.push(res.json().id)
  }
  await force(h.db, ids[0] as string, { status: 'accepted', payment_status: 'authorized' })
  const later = (await h.call('s149', 'POST', BASE, slot(h.clock, 'tut', 400))).json().id

  // The job as main.ts lists it; each run returns how many it cancelled.
  const expiry = h.job('session-expiry') as { run(): Promise<number> }
  t.equal(await expiry.run(), 0, 'nothing is due yet')
  // The service was down for a week: every request that started meanwhile is due.
  h.clock.advance(7 * 24 * 3_600_000)
  const [a, b] = await Promise.all([expiry.run(), expiry.run()])
  t.equal(a + b, 149, `${a} + ${b}: each due request once`)

  const rows = await h.db
    .selectFrom('class_sessions')
    .select(['id', 'status', 'cancel_reason', 'payment_status'])
    .execute()
  const byId = new Map(rows.map((r) => [r.id, r]))
  t.match(byId.get(ids[0] as string), { status: 'accepted' }, 'an accepted session never expires')
  t.match(byId.get(later), { status: 'requested' }, 'a later request waits')
  for (const id of ids.slice(1)) {
    t.match(byId.get(id), {
      status: 'cancelled',
      cancel_reason: 'expired',
      payment_status: 'released',
    })
  }
  const cancelled = await h.db
    .selectFrom('bus_outbox')
    .select(['envelope'])
    .where('type', '=', 'academic.session.cancelled')
    .execute()
  t.equal(cancelled.length, 149, 'one cancelled event each')
  t.match(JSON.parse(cancelled[0]?.envelope ?? '{}').data, {
    actor_id: null,
    reason: 'expired',
    charge: 0,
    fee: 0,
  })
  const changes = await h.db
    .selectFrom('class_session_changes')
    .select(['session_id'])
    .where('to_status', '=', 'cancelled')
    .execute()
  t.equal(new Set(changes.map((c) => c.session_id)).size, 149)
  t.equal(changes.length, 149)
  t.equal(await expiry.run(), 0, 'a second run finds nothing')
})
