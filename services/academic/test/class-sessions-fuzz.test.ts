// Every class-session route with generated requests (session ids, queries, bodies near and far
// from their schemas, times good and bad, Idempotency-Keys, good, broken and missing tokens):
// never a 5xx, every refusal a problem-details body, and at the end no two booked sessions of
// a person overlap. Seeded: the seed is printed, FUZZ_SEED replays a run and FUZZ_RUNS changes
// its length.
import { sql } from '@tms/db'
import {
  answerProblem,
  authorization,
  encodedBody,
  exampleRequest,
  fuzzSettings,
  nearBody,
  pathSegment,
} from '@tms/testing'
import fc from 'fast-check'
import t from 'tap'
import { BASE, force, hoursFrom, sessionsHarness, slot } from './sessions-helpers.ts'

t.test('no class-session route answers a 5xx or a refusal without a problem', async (t) => {
  const h = await sessionsHarness(t)
  await h.addTutor('tut1')
  await h.addTutor('tut2', 4500)
  await h.addTutor('pending1', 6000, 'pending')
  for (const id of ['stu1', 'stu2']) await h.addUser(id, 'student')
  await h.addUser('adm1', 'admin')
  const ids: string[] = []
  for (const [i, status] of ['requested', 'accepted', 'processing', 'completed'].entries()) {
    const made = (await h.call('stu1', 'POST', BASE, slot(h.clock, 'tut1', 30 + i * 2))).json()
    await force(h.db, made.id, { status: status as 'requested', payment_status: 'authorized' })
    ids.push(made.id)
  }
  const tokens = await Promise.all(['adm1', 'stu1', 'stu2', 'tut1', 'tut2'].map(h.tokenOf))
  tokens.push(await h.token({ id: 'stranger', role: 'student' }))

  const sessionId = pathSegment([...ids, 'nope'])
  const time = fc.oneof(
    fc.integer({ min: -48, max: 24 * 40 }).map((hours) => hoursFrom(h.clock, hours)),
    fc
      .tuple(fc.integer({ min: 1, max: 24 * 40 }), fc.constantFrom('+02:00', '-09:30', '+14:00'))
      .map(([hours, offset]) => hoursFrom(h.clock, hours).replace('.000Z', offset)),
    fc.constantFrom(
      '2030-02-30T09:00:00Z',
      '9999-12-31T23:59:00-23:59',
      '0001-01-01T00:00:00Z',
      '2030-01-01T09:00:30Z',
      '2030-01-01T09:00',
      'tomorrow',
      '',
    ),
    fc.string({ maxLength: 70 }),
    fc.integer(),
  )
  // A slot the rules accept (some overlapping others), or two times of any kind.
  const times = fc.oneof(
    fc
      .tuple(fc.integer({ min: 1, max: 24 * 30 }), fc.integer({ min: 15, max: 480 }))
      .map(([hours, minutes]) => {
        const { start_time, end_time } = slot(h.clock, 'tut1', hours, minutes)
        return { start_time, end_time }
      }),
    fc.record({ start_time: time, end_time: time }),
  )
  const text = (max: number) =>
    fc.oneof(fc.string({ maxLength: max }), fc.string({ unit: 'grapheme', maxLength: max + 5 }))
  const record = (fields: Record<string, fc.Arbitrary<unknown>>, required: string[]) =>
    fc.record(fields, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>
  const status = fc.constantFrom(
    'requested',
    'accepted',
    'rejected',
    'cancelled',
    'processing',
    'completed',
    'lost',
  )
  const noBody = fc.constant({ headers: {} as Record<string, string> })
  const query = fc
    .record(
      {
        limit: fc.oneof(fc.integer({ min: -5, max: 120 }).map(String), fc.string({ maxLength: 5 })),
        cursor: fc.string({ maxLength: 60 }),
        status,
        tutor_id: fc.constantFrom('tut1', 'stu1', 'x y'),
        student_id: fc.constantFrom('stu1', 'stu2'),
        class_id: fc.string({ maxLength: 70 }),
        from: time.map(String),
        to: time.map(String),
        other: fc.string({ maxLength: 5 }),
      },
      { requiredKeys: [] },
    )
    .map((q) => `?${new URLSearchParams(q as Record<string, string>)}`)

  const request = fc.oneof(
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant(BASE),
      body: encodedBody(
        nearBody(
          fc
            .tuple(
              times,
              record(
                {
                  tutor_id: fc.constantFrom('tut1', 'tut2', 'pending1', 'stu1', 'nobody'),
                  subject: fc.oneof(fc.constant('algebra'), text(110)),
                  note: text(1010),
                  student_id: fc.constantFrom('stu1', 'stu2', 'tut1', 'nobody'),
                },
                ['tutor_id', 'subject'],
              ),
            )
            .map(([slotTimes, rest]) => ({ ...slotTimes, ...rest })),
        ),
      ),
    }),
    fc.record({ method: fc.constant('GET'), url: query.map((q) => `${BASE}${q}`), body: noBody }),
    fc.record({
      method: fc.constantFrom('GET', 'DELETE'),
      url: sessionId.map((id) => `${BASE}/${id}`),
      body: noBody,
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: sessionId.map((id) => `${BASE}/${id}`),
      body: encodedBody(
        nearBody(
          fc
            .tuple(
              fc.option(times, { nil: undefined }),
              record(
                {
                  note: fc.option(text(1010), { nil: null }),
                  status,
                  reason: text(510),
                  charge: fc.oneof(fc.integer({ min: -1, max: 7000 }), fc.constantFrom(1.5, '5')),
                },
                [],
              ),
            )
            .map(([slotTimes, rest]) => ({ ...slotTimes, ...rest })),
        ),
      ),
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: fc
        .tuple(sessionId, fc.constantFrom('accept', 'reject', 'processing', 'complete', 'cancel'))
        .map(([id, action]) => `${BASE}/${id}/${action}`),
      body: fc.oneof(noBody, encodedBody(nearBody(record({ reason: text(210) }, [])))),
    }),
  )
  const idempotencyKey = fc.option(fc.constantFrom('k1', 'k2', '', 'x'.repeat(300)), {
    nil: undefined,
  })

  const statuses = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(request, authorization(tokens), idempotencyKey, async (r, authHeader, key) => {
      const headers: Record<string, string> = { ...r.body.headers }
      if (authHeader !== undefined) headers.authorization = authHeader
      if (key !== undefined) headers['idempotency-key'] = key
      const res = await h.app.inject({
        method: r.method as 'POST',
        url: r.url,
        headers,
        payload: 'payload' in r.body ? r.body.payload : undefined,
      })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const problem = answerProblem(res)
      if (problem) throw new Error(`${r.method} ${r.url}: ${problem}`)
    }),
    {
      ...fuzzSettings(t, { numRuns: 3000 }),
      // Requests that reach each asserted answer every run, so the coverage asserted below does
      // not rest on the seed: [request, the caller (an index into tokens, or none), key].
      examples: (
        [
          [exampleRequest('POST', BASE, slot(h.clock, 'tut2', 24 * 35)), 2], // 201
          [exampleRequest('GET', BASE), 1], // 200
          [exampleRequest('POST', BASE, {}), 1], // 400
          [exampleRequest('GET', BASE), undefined], // 401
          [exampleRequest('PATCH', `${BASE}/${ids[1]}/accept`), 1], // 403: a student never accepts
          [exampleRequest('GET', `${BASE}/nope`), 1], // 404
          [exampleRequest('PATCH', `${BASE}/${ids[3]}/accept`), 3], // 409: it is completed
          [exampleRequest('DELETE', `${BASE}/${ids[0]}`), 0], // 204
        ] as const
      ).map(([request, who]) => [
        request,
        who === undefined ? undefined : `Bearer ${tokens[who]}`,
        undefined,
      ]) as never,
    },
  )
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  for (const s of [200, 201, 204, 400, 401, 403, 404, 409]) {
    t.ok(statuses.has(s), `some requests answered ${s}`)
  }
  for (const person of ['tutor_id', 'student_id']) {
    const overlapping = await sql`
      SELECT a.id FROM class_sessions a JOIN class_sessions b
        ON a.${sql.ref(person)} = b.${sql.ref(person)} AND a.id < b.id
       AND a.start_time < b.end_time AND b.start_time < a.end_time
     WHERE a.status IN ('accepted', 'processing') AND b.status IN ('accepted', 'processing')`.execute(
      h.db,
    )
    t.same(overlapping.rows, [], `no two booked sessions of one ${person} overlap`)
  }
})
