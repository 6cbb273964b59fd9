// The class-session routes on the real database: requests and their validation, who may see
// and do what (403 for a role that may never, 404 for another's session), listing with
// filters and cursor paging, and the Idempotency-Key of a request.
import { IDEMPOTENCY_TTL_MS } from '@tms/idempotency'
import { answerProblem } from '@tms/testing'
import t from 'tap'
import { BASE, eventsOf, force, sessionsHarness, slot } from './sessions-helpers.ts'

t.test('a student requests a session: priced from the profile, requested, pending', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut', 4500)
  await h.addUser('stu', 'student')
  const body = {
    ...slot(h.clock, 'tut', 48, 50),
    note: 'chapter 3',
  }
  // The same slot written with an offset is normalised to UTC.
  const start = new Date(body.start_time)
  const offset = new Date(start.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00')
  const res = await h.call('stu', 'POST', BASE, { ...body, start_time: offset })
  t.equal(res.statusCode, 201, res.body)
  const session = res.json()
  t.match(session, {
    class_id: null,
    tutor_id: 'tut',
    student_id: 'stu',
    subject: 'algebra',
    note: 'chapter 3',
    start_time: start.toISOString(),
    status: 'requested',
    revision: 1,
    price: 3750, // 4500 × 50 / 60
    fee: 375,
    currency: 'usd',
    payment_status: 'pending',
    amount_charged: 0,
  })
  t.same(
    (await eventsOf(h.db, session.id)).map((e) => e.type),
    ['academic.session.requested'],
  )
  t.match((await eventsOf(h.db, session.id))[0]?.data, {
    session_id: session.id,
    revision: 1,
    student_id: 'stu',
    tutor_id: 'tut',
    price: 3750,
    fee: 375,
    currency: 'usd',
    start_time: start.toISOString(),
  })
  const got = await h.call('stu', 'GET', `${BASE}/${session.id}`)
  t.equal(got.statusCode, 200)
  t.match(got.json().history, [
    { from_status: null, to_status: 'requested', actor_role: 'student', revision: 1 },
  ])
  t.notOk('actor_id' in got.json().history[0], 'who acted is for admins')
})

t.test('bad requests are 400 problems, never a 500', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addTutor('pending-tut', 6000, 'pending')
  await h.addUser('stu', 'student')
  await h.addUser('no-profile', 'tutor')
  const ok = slot(h.clock, 'tut', 48)
  const cases: [string, Record<string, unknown>, string][] = [
    ['a bad date', { ...ok, start_time: '2030-02-30T09:00:00Z' }, 'start_time'],
    ['no offset', { ...ok, start_time: ok.start_time.replace('Z', '') }, 'start_time'],
    ['seconds', { ...ok, start_time: ok.start_time.replace(':00.000Z', ':30Z') }, 'start_time'],
    ['too short', slot(h.clock, 'tut', 48, 14), 'end_time'],
    ['too long', slot(h.clock, 'tut', 48, 481), 'end_time'],
    ['end before start', { ...ok, end_time: ok.start_time }, 'end_time'],
    ['in the past', slot(h.clock, 'tut', -2), 'start_time'],
    ['a pending profile', { ...ok, tutor_id: 'pending-tut' }, 'tutor_id'],
    ['no profile', { ...ok, tutor_id: 'no-profile' }, 'tutor_id'],
    ['an unknown tutor', { ...ok, tutor_id: 'nobody' }, 'tutor_id'],
    ['a price from the client', { ...ok, price: 1 }, 'price'],
    ['a status from the client', { ...ok, status: 'accepted' }, 'status'],
    ['for another student', { ...ok, student_id: 'other' }, 'student_id'],
    ['a blank subject', { ...ok, subject: '   ' }, 'subject'],
    ['no subject', { ...ok, subject: undefined }, 'subject'],
    ['a number for a time', { ...ok, start_time: 12 }, 'start_time'],
  ]
  for (const [what, body, field] of cases) {
    const res = await h.call('stu', 'POST', BASE, body)
    t.equal(res.statusCode, 400, what)
    t.equal(answerProblem(res), undefined, `${what}: a problem`)
    t.match(res.json().errors, [{ field }], `${what}: names ${field}`)
  }
  const form = await h.call('stu', 'POST', BASE, 'tutor_id=tut', {
    'content-type': 'application/x-www-form-urlencoded',
  })
  t.equal(form.statusCode, 415)
  const count = await h.db.selectFrom('class_sessions').select('id').execute()
  t.equal(count.length, 0, 'nothing was stored')
})

t.test('who may request: students for themselves, admins for a student', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addTutor('tut2')
  await h.addUser('stu', 'student')
  await h.addUser('adm', 'admin')
  const tutor = await h.call('tut2', 'POST', BASE, slot(h.clock, 'tut', 48))
  t.equal(tutor.statusCode, 403, 'a tutor never requests')
  t.equal((await h.call('adm', 'POST', BASE, slot(h.clock, 'tut', 48))).statusCode, 400)
  const notStudent = await h.call(
    'adm',
    'POST',
    BASE,
    slot(h.clock, 'tut', 48, 60, { student_id: 'tut2' }),
  )
  t.match(notStudent.json(), { status: 400, errors: [{ field: 'student_id' }] })
  const byAdmin = await h.call(
    'adm',
    'POST',
    BASE,
    slot(h.clock, 'tut', 48, 60, { student_id: 'stu' }),
  )
  t.equal(byAdmin.statusCode, 201)
  t.match(byAdmin.json(), { student_id: 'stu', status: 'requested' })
  t.match((await h.call('adm', 'GET', `${BASE}/${byAdmin.json().id}`)).json().history, [
    { actor_role: 'admin', actor_id: 'adm' },
  ])
  // (A token that says admin without the users table agreeing: "a token claiming admin is not
  // enough" below.)
  const forThem = await h.call('stu', 'GET', `${BASE}/${byAdmin.json().id}`)
  t.equal(forThem.statusCode, 200, 'the student sees the session made for them')
  // A tutor demoted since (auth's role-changed event) is no longer bookable.
  await h.db.updateTable('users').set({ role: 'student' }).where('user_id', '=', 'tut2').execute()
  const demoted = await h.call('stu', 'POST', BASE, slot(h.clock, 'tut2', 72))
  t.match(demoted.json(), { status: 400, errors: [{ field: 'tutor_id' }] })
})

t.test('a student not known here yet, or no student here any more, cannot request', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  const post = async (token: string) =>
    h.app.inject({
      method: 'POST',
      url: BASE,
      headers: { authorization: `Bearer ${token}` },
      payload: slot(h.clock, 'tut', 48),
    })
  // The registration event has not arrived: no users row to lock yet.
  const early = await post(await h.token({ id: 'newcomer', role: 'student' }))
  t.equal(early.statusCode, 409)
  t.equal(early.json().type, 'https://tms.example/problems/account-not-known-yet')
  // A role change here (auth's event) counts before the token's 15 minutes are up.
  await h.addUser('changed', 'tutor')
  const changed = await post(await h.token({ id: 'changed', role: 'student' }))
  t.equal(changed.statusCode, 403)
  t.equal((await h.db.selectFrom('class_sessions').select('id').execute()).length, 0)
})

t.test('a token claiming admin is not enough', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addUser('stu', 'student')
  await h.addUser('adm', 'admin')
  const made = (await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 48))).json()
  await h.db.updateTable('users').set({ role: 'student' }).where('user_id', '=', 'adm').execute()
  t.equal((await h.call('adm', 'GET', `${BASE}/${made.id}`)).statusCode, 404)
  t.same((await h.call('adm', 'GET', BASE)).json().items, [])
})

t.test('visibility: own sessions only, another’s is 404; a student may not accept', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addTutor('tut2')
  await h.addUser('stu', 'student')
  await h.addUser('stu2', 'student')
  await h.addUser('adm', 'admin')
  const mine = (await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 48))).json()
  await force(h.db, mine.id, { payment_status: 'authorized' })
  const url = `${BASE}/${mine.id}`
  t.equal((await h.call('stu2', 'GET', url)).statusCode, 404, 'another student')
  t.equal((await h.call('tut2', 'GET', url)).statusCode, 404, 'another tutor')
  t.equal((await h.call('tut', 'GET', url)).statusCode, 200, 'its tutor')
  t.equal((await h.call('adm', 'GET', url)).statusCode, 200, 'an admin')
  t.equal((await h.call('stu', 'GET', `${BASE}/nope`)).statusCode, 404)
  for (const action of ['accept', 'reject', 'processing', 'complete']) {
    for (const who of ['stu', 'stu2']) {
      const res = await h.call(who, 'PATCH', `${url}/${action}`)
      t.equal(res.statusCode, 403, `${who} ${action}: a student never may`)
      t.equal(answerProblem(res), undefined)
    }
    t.equal((await h.call('tut2', 'PATCH', `${url}/${action}`)).statusCode, 404, `tut2 ${action}`)
  }
  for (const who of ['stu2', 'tut2']) {
    t.equal((await h.call(who, 'PATCH', `${url}/cancel`)).statusCode, 404, `${who} cancel`)
    t.equal((await h.call(who, 'PATCH', url, { note: 'mine now' })).statusCode, 404, `${who} patch`)
  }
  t.equal((await h.call('stu2', 'DELETE', url)).statusCode, 404)
  t.equal((await h.call('tut', 'DELETE', url)).statusCode, 403, 'a tutor never deletes')
  const seen = await h.call('stu', 'GET', url)
  t.match(seen.json(), { status: 'requested', note: null }, 'nothing changed')
  t.equal((await h.call('stu', 'GET', `${url}/accept`)).statusCode, 404, 'no such route')
  const noToken = await h.app.inject({ method: 'GET', url })
  t.equal(noToken.statusCode, 401)
})

t.test('listing: own sessions, filters, cursor paging', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addTutor('tut2')
  await h.addUser('stu', 'student')
  await h.addUser('stu2', 'student')
  await h.addUser('adm', 'admin')
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const res = await h.call('stu', 'POST', BASE, slot(h.clock, i % 2 ? 'tut2' : 'tut', 24 + i * 2))
    t.equal(res.statusCode, 201)
    ids.push(res.json().id)
  }
  const other = (await h.call('stu2', 'POST', BASE, slot(h.clock, 'tut', 30))).json()
  await force(h.db, ids[1] as string, { status: 'accepted' })

  const list = async (who: string, query = '') => {
    const res = await h.call(who, 'GET', `${BASE}?${query}`)
    t.equal(res.statusCode, 200, `${who} ?${query}`)
    return res.json() as { items: { id: string }[]; next_cursor: string | null }
  }
  t.same(
    (await list('stu')).items.map((s) => s.id),
    ids,
    'by start time',
  )
  t.same(
    (await list('stu2')).items.map((s) => s.id),
    [other.id],
  )
  t.same(
    (await list('tut')).items.map((s) => s.id),
    [ids[0], ids[2], other.id, ids[4]],
    'a tutor sees the sessions they teach',
  )
  t.equal((await list('adm')).items.length, 6, 'an admin sees all')
  t.same(
    (await list('stu', 'status=accepted')).items.map((s) => s.id),
    [ids[1]],
  )
  t.same(
    (await list('stu', 'tutor_id=tut2')).items.map((s) => s.id),
    [ids[1], ids[3]],
  )
  t.same(
    (await list('adm', 'student_id=stu2')).items.map((s) => s.id),
    [other.id],
  )
  t.same((await list('stu', 'student_id=stu2')).items, [], 'filters never widen what one sees')
  const from = encodeURIComponent(slot(h.clock, 'tut', 27).start_time)
  const to = encodeURIComponent(slot(h.clock, 'tut', 31).start_time)
  t.same(
    (await list('stu', `from=${from}&to=${to}`)).items.map((s) => s.id),
    [ids[2], ids[3]],
    'sessions touching [from, to)',
  )
  t.same((await list('adm', 'class_id=c1')).items, [])

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: { items: { id: string }[]; next_cursor: string | null } = await list(
      'stu',
      `limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    )
    t.ok(page.items.length <= 2)
    seen.push(...page.items.map((s) => s.id))
    cursor = page.next_cursor
  } while (cursor)
  t.same(seen, ids, 'every session once, in order')

  for (const bad of [
    'limit=0',
    'limit=101',
    'cursor=%25%25',
    'from=yesterday',
    'status=lost',
    'x=1',
  ]) {
    const res = await h.call('stu', 'GET', `${BASE}?${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.equal(answerProblem(res), undefined, bad)
  }
})

t.test('Idempotency-Key on a request: replayed, reused, refused', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addUser('stu', 'student')
  const body = slot(h.clock, 'tut', 48)
  const key = { 'idempotency-key': 'book-1' }
  const first = await h.call('stu', 'POST', BASE, body, key)
  t.equal(first.statusCode, 201)
  const again = await h.call('stu', 'POST', BASE, body, key)
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json(), 'the first answer')
  const other = await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 72), key)
  t.equal(other.statusCode, 409)
  t.equal(other.json().type, 'https://tms.example/problems/idempotency-key-reused')
  // Without the key, the same slot again overlaps the student's own request: 409, stored.
  const overlapKey = { 'idempotency-key': 'book-2' }
  const overlap = await h.call('stu', 'POST', BASE, body, overlapKey)
  t.equal(overlap.statusCode, 409)
  t.equal(overlap.json().type, 'https://tms.example/problems/overlapping-booking')
  await h.call('stu', 'PATCH', `${BASE}/${first.json().id}/cancel`)
  const replayed = await h.call('stu', 'POST', BASE, body, overlapKey)
  t.equal(replayed.statusCode, 409, 'a refusal stays refused under its key')
  t.equal(replayed.headers['idempotent-replayed'], 'true')
  const fresh = await h.call('stu', 'POST', BASE, body, { 'idempotency-key': 'book-3' })
  t.equal(fresh.statusCode, 201, 'the slot is free again once cancelled')
  const rows = await h.db.selectFrom('class_sessions').select('id').execute()
  t.equal(rows.length, 2)
})

t.test("the service's purge job deletes keys past their 24 hours, and only those", async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut')
  await h.addUser('stu', 'student')
  await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 48), { 'idempotency-key': 'old' })
  h.clock.advance(IDEMPOTENCY_TTL_MS - 60_000)
  await h.call('stu', 'POST', BASE, slot(h.clock, 'tut', 72), { 'idempotency-key': 'new' })
  h.clock.advance(120_000)
  // The job as main.ts lists it.
  const purge = h.job('idempotency-key-purge') as { run(): Promise<number> }
  t.equal(await purge.run(), 1)
  const keys = await h.db.selectFrom('idempotency_keys').select('idem_key').execute()
  t.same(
    keys.map((k) => k.idem_key),
    ['new'],
  )
})
