// Every tutor-profile and document route with generated requests (path parameters, queries,
// JSON bodies near and far from their schemas, forms of any parts, cut short or malformed,
// good, broken and missing tokens): never a 5xx, every refusal a problem-details body, and at
// the end the store and the tables agree (every document's object there, no intent left).
// Seeded: the seed is printed, FUZZ_SEED replays a run and FUZZ_RUNS changes its length.
import {
  answerProblem,
  authorization,
  encodedBody,
  exampleRequest,
  fuzzSettings,
  nearBody,
  pathSegment,
  urlPart,
} from '@tms/testing'
import fc from 'fast-check'
import t from 'tap'
import { sample } from './fixtures.ts'
import { createProfile, multipartBody, profileService } from './profile-helpers.ts'

type Part =
  | { kind: 'field'; name: string; value: string }
  | { kind: 'file'; name: string; bytes: Buffer; type: string; filename: string }

t.test('no tutor-profile route answers a 5xx or a refusal without a problem', async (t) => {
  const service = await profileService(t, 'local')
  const tutor = await service.user('tutor-1', 'tutor')
  const other = await service.user('tutor-2', 'tutor')
  const student = await service.user('student-1', 'student')
  const admin = await service.user('admin-1', 'admin')
  const profile = await createProfile(service, tutor.token, [
    { field: 'cv', bytes: sample.pdf() },
    { field: 'certificates', bytes: sample.png() },
  ])
  const tokens = [tutor.token, other.token, student.token, admin.token]
  const profileId = pathSegment([profile.id, 'nope', '00000000-0000-7000-8000-000000000000'])
  const documentId = pathSegment(profile.documents.map((d: { id: string }) => d.id))
  const noBody = fc.constant({ headers: {} as Record<string, string> })
  const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max })

  const query = fc
    .record(
      {
        subject: fc.oneof(fc.constantFrom('maths', ' MATHS '), text(60)),
        min_rate: fc.oneof(fc.integer({ min: -5, max: 20_000_000 }).map(String), text(5)),
        max_rate: fc.oneof(fc.integer({ min: -5, max: 20_000_000 }).map(String), text(5)),
        q: text(110),
        status: fc.constantFrom('pending', 'approved', 'rejected', 'x'),
        user_id: fc.oneof(fc.constantFrom(tutor.id), text(70)),
        sort: fc.constantFrom('newest', 'rate_asc', 'rate_desc', 'name'),
        limit: fc.oneof(fc.integer({ min: -5, max: 120 }).map(String), text(5)),
        cursor: fc.oneof(text(40), fc.base64String({ maxLength: 60 })),
        other: text(5),
      },
      { requiredKeys: [] },
    )
    .map((q) => `?${new URLSearchParams(q as Record<string, string>)}`)

  const changes = nearBody(
    fc.record(
      {
        bio: text(60),
        subjects: fc.oneof(text(40), fc.array(text(20), { maxLength: 25 })),
        hourly_rate: fc.oneof(
          fc.integer({ min: -1, max: 20_000_000 }),
          fc.constantFrom(1.5, '100', null),
        ),
        status: fc.constantFrom('approved', 'rejected', 'pending', 'x'),
        review_note: fc.option(text(50), { nil: null }),
      },
      { requiredKeys: [] },
    ),
  )
  const review = nearBody(
    fc.record(
      {
        status: fc.constantFrom('approved', 'rejected', 'pending'),
        review_note: fc.option(text(1100), { nil: null }),
      },
      { requiredKeys: ['status'] },
    ),
  )

  const fileBytes = fc.constantFrom(
    sample.pdf(300),
    sample.png(300),
    sample.jpeg(300),
    sample.webp(300),
    sample.elf(300),
    sample.html(),
    sample.shellScript(),
    Buffer.alloc(0),
  )
  const part = fc.oneof(
    fc.record({
      kind: fc.constant('field' as const),
      name: fc.constantFrom(
        'bio',
        'subjects',
        'hourly_rate',
        'currency',
        'user_id',
        'status',
        'cv',
        'x',
      ),
      value: fc.oneof(fc.constantFrom('maths', '2500', 'usd', 'tutor-2', '0'), text(30)),
    }),
    fc.record({
      kind: fc.constant('file' as const),
      name: fc.constantFrom('cv', 'id_card', 'certificates', 'photo', 'bio'),
      bytes: fileBytes,
      type: fc.constantFrom('application/pdf', 'image/png', 'image/webp', '', 'text/html'),
      filename: fc.oneof(fc.constantFrom('cv.pdf', '../x', ''), text(30)),
    }),
  )
  // A form of any parts, sometimes cut short anywhere.
  const form = fc.record({
    parts: fc.array(part as fc.Arbitrary<Part>, { maxLength: 9 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  // A new cv, as its tutor or an admin would send it: replaces the current one.
  const newCv: { parts: Part[]; cut: number | undefined } = {
    parts: [
      {
        kind: 'file',
        name: 'cv',
        bytes: sample.pdf(500),
        type: 'application/pdf',
        filename: 'cv.pdf',
      },
    ],
    cut: undefined,
  }
  const goodForm = fc.constant(newCv)
  const formUrl = fc.oneof(
    fc.constant('/academic/tutor-profiles'),
    profileId.map((id) => `/academic/tutor-profiles/${id}/documents`),
  )

  const request = fc.oneof(
    fc.record({
      method: fc.constant('GET'),
      url: fc.oneof(
        query.map((q) => `/academic/tutor-profiles${q}`),
        profileId.map((id) => `/academic/tutor-profiles/${id}`),
        profileId.map((id) => `/academic/tutor-profiles/${id}/documents`),
        fc
          .tuple(profileId, documentId)
          .map(([p, d]) => `/academic/tutor-profiles/${p}/documents/${d}`),
        text(20).map((s) => `/academic/tutor-profiles/${urlPart(s)}`),
      ),
      body: noBody,
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: profileId.map((id) => `/academic/tutor-profiles/${id}`),
      body: encodedBody(changes),
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: fc
        .tuple(profileId, documentId)
        .map(([p, d]) => `/academic/tutor-profiles/${p}/documents/${d}`),
      body: encodedBody(review),
    }),
    fc.record({
      method: fc.constant('DELETE'),
      url: fc.oneof(
        fc
          .tuple(profileId, documentId)
          .map(([p, d]) => `/academic/tutor-profiles/${p}/documents/${d}`),
        // The profile itself only by someone who may not (it must stay for the other requests).
        fc.constant('/academic/tutor-profiles/nope'),
      ),
      body: noBody,
    }),
    fc.record({ method: fc.constant('POST'), url: formUrl, body: encodedBody(changes) }),
    fc.record({ method: fc.constant('FORM'), url: formUrl, body: form }),
    fc.record({
      method: fc.constant('FORM'),
      url: fc.constant(`/academic/tutor-profiles/${profile.id}/documents`),
      body: goodForm,
    }),
  )

  const mine = `/academic/tutor-profiles/${profile.id}`
  const approve = { status: 'approved' }

  const statuses = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(request, authorization(tokens), async (r, authHeader) => {
      const headers: Record<string, string> = {}
      if (authHeader !== undefined) headers.authorization = authHeader
      let payload: string | Buffer | undefined
      if (r.method === 'FORM') {
        const { parts, cut } = r.body
        const fields = parts.flatMap((p) => (p.kind === 'field' ? [[p.name, p.value]] : []))
        const files = parts.flatMap((p) =>
          p.kind === 'file'
            ? [{ field: p.name, bytes: p.bytes, type: p.type, filename: p.filename }]
            : [],
        )
        const encoded = await multipartBody(Object.fromEntries(fields), files)
        const length = encoded.payload.length
        payload =
          cut === undefined ? encoded.payload : encoded.payload.subarray(0, cut % (length + 1))
        Object.assign(headers, encoded.headers)
      } else {
        Object.assign(headers, r.body.headers)
        payload = 'payload' in r.body ? r.body.payload : undefined
      }
      const method = r.method === 'FORM' ? 'POST' : r.method
      const res = await service.app.inject({ method, url: r.url, headers, payload })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const problem = answerProblem(res)
      if (problem) throw new Error(`${r.method} ${r.url}: ${problem}`)
    }),
    {
      ...fuzzSettings(t, { numRuns: 1500 }),
      // Requests that reach each asserted answer every run, so the coverage asserted below does
      // not rest on the seed: [request, the caller (an index into tokens, or none)].
      examples: (
        [
          [exampleRequest('GET', '/academic/tutor-profiles'), undefined], // 200
          [{ method: 'FORM', url: `${mine}/documents`, body: newCv }, 0], // 201
          [exampleRequest('PATCH', mine, { unknown: 1 }), 0], // 400
          [exampleRequest('PATCH', mine, { bio: 'x' }), undefined], // 401
          [exampleRequest('PATCH', `${mine}/documents/${profile.documents[0].id}`, approve), 0], // 403
          [exampleRequest('GET', '/academic/tutor-profiles/nope'), 2], // 404
          [exampleRequest('POST', `${mine}/documents`, { bio: 'x' }), 0], // 415: not a form
        ] as const
      ).map(([request, who]) => [
        request,
        who === undefined ? undefined : `Bearer ${tokens[who]}`,
      ]) as never,
    },
  )
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  for (const status of [200, 201, 400, 401, 403, 404, 415]) {
    t.ok(statuses.has(status), `some requests answered ${status}`)
  }

  // The store and the tables agree: every document's object is there, nothing else is, and no
  // upload is left half done.
  const keys = (await service.db.selectFrom('tutor_documents').select('storage_key').execute())
    .map((r) => r.storage_key)
    .sort()
  t.same(await service.storedKeys(), keys, 'one object per document, no other')
  t.same((await service.rows()).intents, 0, 'no intent left')
  t.same(await service.temporaryFiles(), [], 'no spool file left')
})
