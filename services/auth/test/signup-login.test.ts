import { decodeJwt, decodeProtectedHeader } from 'jose'
import t from 'tap'
import { newAccount, outboxEvents, setup, signup, testConfig } from './helpers.ts'

t.test('signup creates an account and publishes auth.user.registered', async (t) => {
  const { app, db } = await setup(t)
  const account = newAccount({ role: 'tutor', name: 'Ada Lovelace', phone: '+44 20 7946 0000' })
  const res = await app.inject({ method: 'POST', url: '/auth/signup', payload: account })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['email', 'id', 'role', 'username'])
  t.match(body, { username: account.username, email: account.email, role: 'tutor' })

  const stored = await db.selectFrom('users').selectAll().executeTakeFirstOrThrow()
  t.match(stored.password_hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/)
  t.notMatch(stored.password_hash, /correct horse/)

  const events = await outboxEvents(db)
  t.equal(events.length, 1)
  t.same(events[0]?.data, {
    user_id: body.id,
    username: account.username,
    email: account.email,
    role: 'tutor',
    name: 'Ada Lovelace',
    phone: '+44 20 7946 0000',
  })
  t.equal(events[0]?.type, 'auth.user.registered')
})

t.test('the registered event carries the request id as its correlation id', async (t) => {
  const { app, db } = await setup(t)
  const res = await app.inject({
    method: 'POST',
    url: '/auth/signup',
    headers: { 'x-request-id': 'gateway-req-7' },
    payload: newAccount(),
  })
  t.equal(res.statusCode, 201)
  const [event] = await outboxEvents(db)
  t.equal((event as { correlation_id?: string } | undefined)?.correlation_id, 'gateway-req-7')
})

t.test('usernames and emails are stored lowercase', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({
    method: 'POST',
    url: '/auth/signup',
    payload: newAccount({ username: 'Mixed.Case', email: 'Mixed.Case@Example.COM' }),
  })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { username: 'mixed.case', email: 'mixed.case@example.com' })
})

t.test('duplicates are 409, also when they differ only in case', async (t) => {
  const { app, db } = await setup(t)
  const first = await signup(app, { username: 'ada', email: 'ada@example.com' })
  const cases = [
    { username: 'ada', email: 'other@example.com' },
    { username: 'ADA', email: 'other@example.com' },
    { username: 'someone', email: 'ada@example.com' },
    { username: 'someone', email: 'ADA@Example.com' },
  ]
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: '/auth/signup', payload: newAccount(c) })
    t.equal(res.statusCode, 409, JSON.stringify(c))
    t.match(res.headers['content-type'], /problem\+json/)
  }
  // Racing signups: only one wins, the other is a 409 from the unique key, never a 500.
  const racers = await Promise.all(
    [1, 2, 3].map(() =>
      app.inject({
        method: 'POST',
        url: '/auth/signup',
        payload: newAccount({ username: 'racer', email: 'racer@example.com' }),
      }),
    ),
  )
  t.same(racers.map((r) => r.statusCode).sort(), [201, 409, 409])
  const count = await db.selectFrom('users').select(db.fn.countAll().as('n')).executeTakeFirst()
  t.equal(Number(count?.n), 2)
  t.ok(first.id)
})

t.test('invalid signups are 400 naming the field', async (t) => {
  const { app, db } = await setup(t)
  const cases: [Record<string, unknown>, string][] = [
    [{ role: 'admin' }, 'role'],
    [{ is_admin: true }, 'is_admin'],
    [{ balance: 100 }, 'balance'],
    [{ username: 'ab' }, 'username'],
    [{ username: 'has space' }, 'username'],
    [{ username: 'a@b.com' }, 'username'],
    [{ username: 'x'.repeat(33) }, 'username'],
    [{ email: 'not-an-email' }, 'email'],
    [{ password: 'short' }, 'password'],
    [{ password: 'p'.repeat(129) }, 'password'],
    [{ role: undefined }, 'role'],
  ]
  for (const [overrides, field] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: newAccount(overrides),
    })
    t.equal(res.statusCode, 400, JSON.stringify(overrides))
    t.equal(res.json().errors?.[0]?.field, field, JSON.stringify(overrides))
  }
  const sameAsUsername = await app.inject({
    method: 'POST',
    url: '/auth/signup',
    payload: newAccount({ username: 'samesame', password: 'SameSame' }),
  })
  t.equal(sameAsUsername.statusCode, 400)
  t.same(sameAsUsername.json().errors, [
    { field: 'password', message: 'must not be the username or the email' },
  ])
  const count = await db.selectFrom('users').select(db.fn.countAll().as('n')).executeTakeFirst()
  t.equal(Number(count?.n), 0, 'nothing was created')
  t.equal((await outboxEvents(db)).length, 0)
})

t.test('login answers a token pair; the access token is as the SPEC says', async (t) => {
  const { app, keys } = await setup(t)
  const user = await signup(app, { role: 'tutor' })
  const res = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: user.username, password: user.password },
  })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
  t.equal(body.token_type, 'bearer')
  t.equal(body.expires_in, 900)
  t.match(body.refresh_token, /^[A-Za-z0-9_-]{43}$/)
  t.same(decodeProtectedHeader(body.access_token), { alg: 'ES256', typ: 'at+jwt', kid: keys.kid })
  const claims = decodeJwt(body.access_token)
  t.match(claims, {
    sub: user.id,
    role: 'tutor',
    username: user.username,
    iss: testConfig.jwtIssuer,
    aud: 'tms-api',
  })
  t.equal((claims.exp as number) - (claims.iat as number), 900)
})

t.test('login by email, in any case, and as an OAuth2 password form', async (t) => {
  const { app } = await setup(t)
  const user = await signup(app)
  const byEmail = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: user.email.toUpperCase(), password: user.password },
  })
  t.equal(byEmail.statusCode, 200)

  const form = new URLSearchParams({
    grant_type: 'password',
    username: user.username,
    password: user.password,
    scope: 'anything',
    client_id: 'docs',
    client_secret: 'ignored',
  })
  const byForm = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form.toString(),
  })
  t.equal(byForm.statusCode, 200)
  t.ok(byForm.json().access_token)

  const unknownField = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: user.username, password: user.password, role: 'admin' },
  })
  t.equal(unknownField.statusCode, 400)

  const wrongType = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello',
  })
  t.equal(wrongType.statusCode, 415)
})

t.test('a wrong password and an unknown user get the same 401', async (t) => {
  const { app } = await setup(t)
  const user = await signup(app)
  const wrong = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: user.username, password: 'not the password' },
  })
  const unknown = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: 'nobody_here', password: 'not the password' },
  })
  const unknownEmail = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: 'nobody@example.com', password: 'x' },
  })
  for (const res of [wrong, unknown, unknownEmail]) {
    t.equal(res.statusCode, 401)
    t.equal(res.body, wrong.body)
    t.same(res.headers['content-type'], wrong.headers['content-type'])
  }
  t.same(wrong.json(), {
    type: 'about:blank',
    title: 'Unauthorized',
    status: 401,
    detail: 'the username or password is wrong',
  })
})

t.test('successful logins do not count against the account limit', async (t) => {
  const { app } = await setup(t, { rateLimitPerAccount: 2, rateLimitPerAddress: 100 })
  const user = await signup(app)
  // One user on many devices (addresses) logs in more often than the account limit allows
  // failures; only a wrong password counts.
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: `10.1.0.${i}`,
      payload: { username: user.username, password: user.password },
    })
    t.equal(res.statusCode, 200, `login ${i + 1}`)
  }
  const wrong = { username: user.username, password: 'wrong password' }
  t.equal(
    (await app.inject({ method: 'POST', url: '/auth/login', payload: wrong })).statusCode,
    401,
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/auth/login', payload: wrong })).statusCode,
    401,
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/auth/login', payload: wrong })).statusCode,
    429,
  )
})

t.test('password checks are limited per client address, with Retry-After', async (t) => {
  const { app, clock } = await setup(t, { rateLimitPerAddress: 5, rateLimitWindowMs: 60_000 })
  const user = await signup(app)
  const attempt = (username: string, remoteAddress = '10.0.0.1', password = 'wrong password') =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress,
      payload: { username, password },
    })
  // One address trying many accounts (the per-account limit is in guessing.test.ts).
  for (let i = 0; i < 5; i++) t.equal((await attempt(`other_${i}`)).statusCode, 401)
  const limited = await attempt('other_5')
  t.equal(limited.statusCode, 429, 'the address is over its limit')
  t.equal(limited.headers['retry-after'], '60')
  t.match(limited.json(), { status: 429, title: 'Too Many Requests' })
  t.equal((await attempt(user.username, '10.0.0.1', user.password)).statusCode, 429)
  t.equal((await attempt('other_5', '10.0.0.2')).statusCode, 401, 'another address is not')
  clock.advance(60_000)
  t.equal((await attempt(user.username, '10.0.0.1', user.password)).statusCode, 200)
})

t.test('root check, health, metrics (on their own listener) and OpenAPI', async (t) => {
  const { app } = await setup(t)
  t.same((await app.inject({ method: 'GET', url: '/' })).json(), { status: 'ok', service: 'auth' })
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200, 'ready: the database answers and the bus is started')
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok', bus: 'connected' } })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'not public')
  const metrics = await fetch(await app.listenMetrics({ host: '127.0.0.1', port: 0 }))
  t.match(
    await metrics.text(),
    /http_request_duration_seconds_count\{service="auth",method="GET",route="\/"/,
  )
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  for (const path of [
    '/auth/signup',
    '/auth/login',
    '/auth/refresh',
    '/auth/logout',
    '/auth/password',
    '/auth/email',
    '/auth/forgot-password/request-otp',
    '/auth/verify',
    '/auth/forgot-password/reset',
    '/auth/update-role',
    '/auth/.well-known/jwks.json',
  ]) {
    t.ok(doc.paths[path], path)
  }
  t.ok(doc.paths['/auth/login'].post.requestBody.content['application/x-www-form-urlencoded'])
  t.same(doc.paths['/auth/update-role'].patch.security, [
    { bearerAuth: [] },
    { oauth2Password: [] },
  ])
})
