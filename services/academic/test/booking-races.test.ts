// Racing bookings on the real database: the schedule locks make the overlap rules hold with
// any number of concurrent requests, whatever the interleaving, without a deadlock surfacing.
import { type Kysely, sql } from '@tms/db'
import t from 'tap'
import type { AcademicDatabase } from '../src/db/schema.ts'
import { BASE, force, sessionsHarness, slot } from './sessions-helpers.ts'

/** Pairs of booked (accepted, processing) sessions of one tutor or one student that overlap. */
async function overlappingBooked(db: Kysely<AcademicDatabase>) {
  const pairs = []
  for (const person of ['tutor_id', 'student_id']) {
    const rows = await sql<{ a: string; b: string }>`
      SELECT a.id AS a, b.id AS b FROM class_sessions a JOIN class_sessions b
        ON a.${sql.ref(person)} = b.${sql.ref(person)} AND a.id < b.id
       AND a.start_time < b.end_time AND b.start_time < a.end_time
     WHERE a.status IN ('accepted', 'processing') AND b.status IN ('accepted', 'processing')`.execute(
      db,
    )
    pairs.push(...rows.rows)
  }
  return pairs
}

t.test(
  '20 concurrent accepts of overlapping sessions of one tutor: exactly one wins',
  async (t) => {
    const h = await sessionsHarness(t)
    await h.addTutor('tut')
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      await h.addUser(`stu${i}`, 'student')
      // Each starts 3 minutes after the last and lasts an hour: every pair overlaps.
      const body = slot(h.clock, 'tut', 48 + (i * 3) / 60, 60)
      const res = await h.call(`stu${i}`, 'POST', BASE, body)
      t.equal(res.statusCode, 201)
      ids.push(res.json().id)
      await force(h.db, res.json().id, { payment_status: 'authorized' })
    }
    const answers = await Promise.all(
      ids.map((id) => h.call('tut', 'PATCH', `${BASE}/${id}/accept`)),
    )
    const codes = answers.map((a) => a.statusCode)
    t.equal(codes.filter((c) => c === 200).length, 1, `one 200 in ${codes.join(',')}`)
    t.equal(codes.filter((c) => c === 409).length, 19)
    for (const a of answers.filter((x) => x.statusCode === 409)) {
      t.equal(a.json().type, 'https://tms.example/problems/overlapping-booking')
    }
    const accepted = await h.db
      .selectFrom('class_sessions')
      .select('id')
      .where('status', '=', 'accepted')
      .execute()
    t.equal(accepted.length, 1)
    t.same(await overlappingBooked(h.db), [])
  },
)

t.test('20 concurrent accepts of one session: one moves it, the rest are 409', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addUser('stu', 'student')
  await h.addUser('adm', 'admin')
  const id = (await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 48))).json().id
  await force(h.db, id, { payment_status: 'authorized' })
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      h.call(i % 2 ? 'tut' : 'adm', 'PATCH', `${BASE}/${id}/accept`),
    ),
  )
  t.same(answers.map((a) => a.statusCode).sort(), [200, ...Array(19).fill(409)])
  const events = await h.db
    .selectFrom('bus_outbox')
    .select('type')
    .where('type', '=', 'academic.session.accepted')
    .execute()
  t.equal(events.length, 1, 'one accepted event')
})

t.test('racing requests by one student for one slot: one is made, the rest 409', async (t) => {
  const h = await sessionsHarness(t)
  await h.addUser('stu', 'student')
  for (let i = 0; i < 5; i++) await h.addTutor(`tut${i}`)
  // Ten at once: the same slot with five tutors, twice each, and no Idempotency-Key.
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      h.call('stu', 'POST', BASE, slot(h.clock, `tut${i % 5}`, 48)),
    ),
  )
  const codes = answers.map((a) => a.statusCode)
  t.equal(codes.filter((c) => c === 201).length, 1, codes.join(','))
  t.equal(codes.filter((c) => c === 409).length, 9)
  const rows = await h.db.selectFrom('class_sessions').select('id').execute()
  t.equal(rows.length, 1)
  // Back to back is not an overlap.
  const next = await h.call('stu', 'POST', BASE, slot(h.clock, 'tut0', 49))
  t.equal(next.statusCode, 201)
})

t.test(
  'many people booking and accepting at once: no overlap, no deadlock surfacing',
  async (t) => {
    const h = await sessionsHarness(t)
    const tutors = ['t0', 't1', 't2']
    const students = Array.from({ length: 8 }, (_, i) => `s${i}`)
    for (const id of tutors) await h.addTutor(id)
    for (const id of students) await h.addUser(id, 'student')
    // Every student asks every tutor for slots on a grid that overlaps across tutors and hours.
    const requests = students.flatMap((s, i) =>
      tutors.map((tu, j) =>
        h.call(s, 'POST', BASE, slot(h.clock, tu, 48 + ((i + j) % 4) * 0.5, 60)),
      ),
    )
    const made = await Promise.all(requests)
    t.ok(
      made.every((r) => r.statusCode === 201 || r.statusCode === 409),
      'no other answer',
    )
    const ids = made.filter((r) => r.statusCode === 201).map((r) => r.json())
    t.ok(ids.length >= 8, `${ids.length} made`)
    await h.db.updateTable('class_sessions').set({ payment_status: 'authorized' }).execute()
    const accepts = await Promise.all(
      ids.map((s) => h.call(s.tutor_id, 'PATCH', `${BASE}/${s.id}/accept`)),
    )
    t.ok(
      accepts.every((r) => r.statusCode === 200 || r.statusCode === 409),
      accepts.map((r) => r.statusCode).join(','),
    )
    t.ok(accepts.some((r) => r.statusCode === 200))
    t.same(await overlappingBooked(h.db), [])
    // And the students' open sessions never overlap either.
    const open = await sql<{ a: string }>`
    SELECT a.id AS a FROM class_sessions a JOIN class_sessions b
      ON a.student_id = b.student_id AND a.id < b.id
     AND a.start_time < b.end_time AND b.start_time < a.end_time
   WHERE a.status IN ('requested', 'accepted', 'processing')
     AND b.status IN ('requested', 'accepted', 'processing')`.execute(h.db)
    t.same(open.rows, [])
  },
)
