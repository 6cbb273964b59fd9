// Every auth route with generated requests (bodies near and far from their schemas, forms and
// junk of every content type, good, broken and missing tokens): never a 5xx, and every
// refusal a problem-details body. Seeded: the seed is printed, FUZZ_SEED replays a run and
// FUZZ_RUNS changes its length.
import {
  answerProblem,
  authorization,
  emailLike,
  encodedBody,
  exampleRequest,
  fuzzSettings,
  nameLike,
  nearBody,
  phoneLike,
  usernameLike,
} from '@tms/testing'
import fc from 'fast-check'
import t from 'tap'
import { login, newAccount, setup, signup } from './helpers.ts'

t.test('no auth route answers a 5xx or a refusal without a problem', async (t) => {
  const h = await setup(t, { rateLimitPerAccount: 1_000_000, rateLimitPerAddress: 1_000_000 })
  const admin = await signup(h.app, { username: 'fuzz_admin' })
  await h.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.id).execute()
  const student = await signup(h.app, { username: 'fuzz_student' })
  const adminTokens = await login(h.app, admin.username, admin.password)
  const studentTokens = await login(h.app, student.username, student.password)
  const accounts = [admin, student]

  const password = fc.oneof(
    fc.constantFrom(admin.password, student.password, 'correct horse battery'),
    fc.string({ maxLength: 140 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
  )
  const knownOr = <T>(known: T[], other: fc.Arbitrary<T>) =>
    fc.oneof(fc.constantFrom(...known), other)
  const loginName = knownOr(
    accounts.flatMap((a) => [a.username, a.email, a.email.toUpperCase()]),
    fc.oneof(usernameLike, emailLike),
  )
  const email = knownOr(
    accounts.map((a) => a.email),
    emailLike,
  )
  const otp = fc.oneof(fc.stringMatching(/^[0-9]{6}$/), fc.string({ maxLength: 8 }))
  const refreshToken = knownOr(
    [adminTokens.refresh_token, studentTokens.refresh_token],
    fc.string({ maxLength: 210 }),
  )
  const record = (fields: Record<string, fc.Arbitrary<unknown>>, optional: string[] = []) =>
    fc.record(fields, {
      requiredKeys: Object.keys(fields).filter((k) => !optional.includes(k)),
    }) as fc.Arbitrary<Record<string, unknown>>

  const request = fc.oneof(
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant('/auth/signup'),
      body: encodedBody(
        nearBody(
          fc.oneof(
            record(
              {
                username: usernameLike,
                email: emailLike,
                password,
                role: fc.constantFrom('student', 'tutor', 'admin', 'root'),
                name: nameLike,
                phone: phoneLike,
              },
              ['name', 'phone'],
            ),
            // Mostly valid, so that the insert and the event are reached, with hostile names.
            record(
              {
                username: fc.stringMatching(/^[A-Za-z0-9_.-]{3,32}$/),
                email: fc.oneof(fc.emailAddress(), emailLike),
                password: fc.constant('correct horse battery'),
                role: fc.constantFrom('student', 'tutor'),
                name: nameLike,
                phone: phoneLike,
              },
              ['name', 'phone'],
            ),
          ),
        ),
      ),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant('/auth/login'),
      body: encodedBody(
        nearBody(
          record({ username: loginName, password, grant_type: fc.constant('password') }, [
            'grant_type',
          ]),
        ),
      ),
    }),
    ...['/auth/refresh', '/auth/logout'].map((url) =>
      fc.record({
        method: fc.constant('POST'),
        url: fc.constant(url),
        body: encodedBody(nearBody(record({ refresh_token: refreshToken }))),
      }),
    ),
    fc.record({
      method: fc.constant('PATCH'),
      url: fc.constant('/auth/password'),
      body: encodedBody(nearBody(record({ current_password: password, new_password: password }))),
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: fc.constant('/auth/email'),
      body: encodedBody(nearBody(record({ current_password: password, new_email: email }))),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant('/auth/forgot-password/request-otp'),
      body: encodedBody(nearBody(record({ email }))),
    }),
    fc.record({
      method: fc.constant('GET'),
      url: fc
        .tuple(email, otp, fc.option(fc.string({ maxLength: 10 })))
        .map(
          ([e, o, extra]) =>
            `/auth/verify?${new URLSearchParams({ email: e, otp: o, ...(extra === null ? {} : { [extra]: '1' }) })}`,
        ),
      body: fc.constant({ headers: {} }),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant('/auth/forgot-password/reset'),
      body: encodedBody(nearBody(record({ email, otp, new_password: password }))),
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: fc.constant('/auth/update-role'),
      body: encodedBody(
        nearBody(
          record({
            user_id: knownOr([student.id, admin.id], fc.string({ maxLength: 70 })),
            role: fc.constantFrom('student', 'tutor', 'admin', 'root'),
          }),
        ),
      ),
    }),
    fc.record({
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
      url: fc.constantFrom(
        '/',
        '/auth/.well-known/jwks.json',
        '/health/live',
        '/openapi.json',
        '/metrics',
        '/auth/nowhere',
        '/auth/%E0%A4%A',
      ),
      body: encodedBody(fc.jsonValue({ maxDepth: 1 })),
    }),
  )

  const plainText = { 'content-type': 'text/plain' }
  const auth = authorization([adminTokens.access_token, studentTokens.access_token])
  let answered = 0
  const statuses = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(request, auth, fc.nat(255), async (r, authHeader, host) => {
      const res = await h.app.inject({
        method: r.method as 'POST',
        url: r.url,
        remoteAddress: `10.${host}.0.1`,
        headers: {
          ...r.body.headers,
          ...(authHeader === undefined ? {} : { authorization: authHeader }),
        },
        payload: 'payload' in r.body ? r.body.payload : undefined,
      })
      answered++
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const problem = answerProblem(res)
      if (problem) throw new Error(`${r.method} ${r.url}: ${problem}`)
    }),
    {
      ...fuzzSettings(t, { numRuns: 5000 }),
      // Requests that reach each asserted answer every run, so the coverage asserted below does
      // not rest on the seed: [request, the caller (an index into the tokens, or none)].
      examples: (
        [
          [exampleRequest('GET', '/'), undefined], // 200
          [
            exampleRequest('POST', '/auth/signup', newAccount({ username: 'fuzz_example' })),
            undefined,
          ], // 201
          [exampleRequest('POST', '/auth/logout', { refresh_token: 'unknown' }), undefined], // 204
          [exampleRequest('POST', '/auth/signup', {}), undefined], // 400
          [
            exampleRequest('PATCH', '/auth/update-role', { user_id: student.id, role: 'tutor' }),
            undefined,
          ], // 401
          [exampleRequest('PATCH', '/auth/update-role', { user_id: student.id, role: 'tutor' }), 1], // 403
          [
            {
              ...exampleRequest('POST', '/auth/signup'),
              body: { headers: plainText, payload: 'x' },
            },
            undefined,
          ], // 415
        ] as const
      ).map(([request, who]) => [
        request,
        who === undefined
          ? undefined
          : `Bearer ${[adminTokens.access_token, studentTokens.access_token][who]}`,
        1,
      ]) as never,
    },
  )
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.ok(answered > 0)
  for (const status of [200, 201, 204, 400, 401, 403, 415]) {
    t.ok(statuses.has(status), `some requests answered ${status}`)
  }
})
