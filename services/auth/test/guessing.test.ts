// Password guessing, as the attack of issue 8 tried it: bursts of concurrent guesses, a right
// password hidden in a burst, guesses through a stolen access token, an account locked by a
// stranger, and floods of hashing work.
import t from 'tap'
import { createPasswordChecker, OWASP_ARGON2 } from '../src/domain/password.ts'
import { HashQueue } from '../src/hash-queue.ts'
import { bearer, login, setup, signup } from './helpers.ts'

const limits = { rateLimitPerAccount: 10, rateLimitPerAddress: 10_000, rateLimitWindowMs: 60_000 }

function guess(
  app: Awaited<ReturnType<typeof setup>>['app'],
  username: string,
  password: string,
  remoteAddress = '10.0.0.66',
) {
  return app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress,
    payload: { username, password },
  })
}

t.test('60 concurrent wrong guesses: at most the limit get past the check', async (t) => {
  const { app } = await setup(t, limits)
  const user = await signup(app)
  // By username and by email alike: one account, one count.
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      guess(app, i % 2 ? user.username : user.email.toUpperCase(), `wrong guess ${i}`),
    ),
  )
  const codes = answers.map((a) => a.statusCode)
  t.equal(codes.filter((c) => c === 401).length, 10, 'the limit got a hash each')
  t.equal(codes.filter((c) => c === 429).length, 50, 'the rest were refused before hashing')
  for (const refused of answers.filter((a) => a.statusCode === 429)) {
    t.ok(Number(refused.headers['retry-after']) >= 1)
    t.match(refused.headers['content-type'], /^application\/problem\+json/)
  }
})

t.test('60 concurrent wrong guesses from 60 addresses: at most twice the limit', async (t) => {
  const { app } = await setup(t, limits)
  const user = await signup(app)
  // Each address is fresh, so after the account's own allowance the second one (kept for the
  // owner elsewhere, shared by every fresh address) takes the limit once more, and no more.
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      guess(app, user.username, `wrong guess ${i}`, `10.1.${i}.1`),
    ),
  )
  const codes = answers.map((a) => a.statusCode)
  t.equal(codes.filter((c) => c === 401).length, 20, 'two allowances got a hash each')
  t.equal(codes.filter((c) => c === 429).length, 40, 'the rest were refused before hashing')
})

t.test('a burst with the right password in it does not get it through', async (t) => {
  const { app } = await setup(t, limits)
  const user = await signup(app)
  const burst = Array.from({ length: 40 }, (_, i) =>
    guess(app, user.username, i === 37 ? user.password : `wrong guess ${i}`),
  )
  const answers = await Promise.all(burst)
  const passed = answers.filter((a) => a.statusCode !== 429)
  t.ok(passed.length <= 10, `${passed.length} got past the check`)
  // The database pool (10) lets the 38th request reach the check only after 28 others did.
  t.equal(answers[37]?.statusCode, 429, 'the 38th, right, is refused like any guess')
  t.notOk(
    answers.some((a) => a.statusCode === 200),
    'no token',
  )
})

t.test('a guesser is slowed by growing delays; the owner elsewhere still logs in', async (t) => {
  const { app, clock } = await setup(t, {
    ...limits,
    rateLimitPerAccount: 3,
    loginDelayBaseMs: 1000,
    loginDelayMaxMs: 8000,
  })
  const user = await signup(app)
  const attacker = (password = 'wrong guess') => guess(app, user.username, password, '10.6.6.6')
  for (let i = 0; i < 3; i++) t.equal((await attacker()).statusCode, 401, 'free failures')
  // Then each failure doubles the wait: 1, 2, 4, 8, 8 seconds.
  for (const seconds of [1, 2, 4, 8, 8]) {
    const early = await attacker()
    t.equal(early.statusCode, 429, `held for ${seconds} s`)
    t.equal(early.headers['retry-after'], String(seconds))
    t.equal((await attacker(user.password)).statusCode, 429, 'even with the right password')
    clock.advance(seconds * 1000 - 1)
    t.equal((await attacker()).statusCode, 429, 'not a millisecond early')
    clock.advance(1)
    t.equal((await attacker()).statusCode, 401, `tried after ${seconds} s`)
  }
  // The owner, from an address that has not failed, is not held by the stranger's failures.
  const owner = await guess(app, user.email, user.password, '192.0.2.10')
  t.equal(owner.statusCode, 200, 'the owner logs in')
  t.equal((await guess(app, user.username, user.password, '192.0.2.10')).statusCode, 200)
  t.equal((await attacker()).statusCode, 429, 'the stranger is still held')
})

t.test('many guessing addresses slow the owner down but never lock them out', async (t) => {
  const { app, clock } = await setup(t, {
    ...limits,
    rateLimitPerAccount: 2,
    loginDelayBaseMs: 1000,
    loginDelayMaxMs: 4000,
  })
  const user = await signup(app)
  // Fresh addresses, one wrong guess each, use up both allowances of the account.
  for (let i = 0; i < 10; i++) await guess(app, user.username, 'wrong guess', `10.9.0.${i}`)
  const owner = () => guess(app, user.username, user.password, '192.0.2.20')
  const held = await owner()
  t.equal(held.statusCode, 429)
  const wait = Number(held.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 4, `for at most the longest delay (${wait} s)`)
  clock.advance(wait * 1000)
  t.equal((await owner()).statusCode, 200, 'then in')
})

t.test('failures are forgotten a window after their delay', async (t) => {
  const { app, clock } = await setup(t, { ...limits, rateLimitPerAccount: 2 })
  const user = await signup(app)
  await guess(app, user.username, 'wrong guess')
  await guess(app, user.username, 'wrong guess')
  t.equal((await guess(app, user.username, user.password)).statusCode, 429)
  clock.advance(1000 + 60_000)
  t.equal((await guess(app, user.username, user.password)).statusCode, 200)
})

t.test('unknown logins are limited the same way, by the name typed', async (t) => {
  const { app } = await setup(t, { ...limits, rateLimitPerAccount: 2 })
  await guess(app, 'nobody_here', 'wrong guess')
  await guess(app, 'NOBODY_HERE', 'wrong guess')
  t.equal((await guess(app, 'nobody_here', 'wrong guess')).statusCode, 429)
  t.equal((await guess(app, 'somebody_else', 'wrong guess')).statusCode, 401)
})

t.test('wrong current passwords with a stolen token count against the account', async (t) => {
  const { app } = await setup(t, { ...limits, rateLimitPerAccount: 5 })
  const user = await signup(app)
  const { access_token: stolen } = await login(app, user.username, user.password)
  const change = (url: string, current: string) =>
    app.inject({
      method: 'PATCH',
      url,
      remoteAddress: '10.6.6.6',
      headers: bearer(stolen),
      payload:
        url === '/auth/password'
          ? { current_password: current, new_password: 'a brand new password' }
          : { current_password: current, new_email: 'thief@example.com' },
    })
  for (let i = 0; i < 3; i++)
    t.equal((await change('/auth/password', `guess ${i}`)).statusCode, 403)
  for (let i = 0; i < 2; i++) t.equal((await change('/auth/email', `guess ${i}`)).statusCode, 403)
  const limited = await change('/auth/password', user.password)
  t.equal(limited.statusCode, 429, 'the right one, after the limit, is refused')
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.equal((await change('/auth/email', user.password)).statusCode, 429)
  // The same account's login from the same address is held too: one count.
  t.equal((await guess(app, user.username, user.password, '10.6.6.6')).statusCode, 429)
  // The owner, elsewhere, is not.
  t.equal((await guess(app, user.username, user.password, '192.0.2.30')).statusCode, 200)
  const concurrent = await Promise.all(
    Array.from({ length: 20 }, (_, i) => change('/auth/password', `burst ${i}`)),
  )
  t.notOk(
    concurrent.some((a) => a.statusCode === 403),
    'a burst gets no more guesses',
  )
})

t.test('signups are limited per client address', async (t) => {
  const { app } = await setup(t, { rateLimitSignupPerAddress: 3 })
  const attempt = (i: number, remoteAddress = '10.7.0.1') =>
    app.inject({
      method: 'POST',
      url: '/auth/signup',
      remoteAddress,
      payload: {
        username: `flood_${process.pid}_${i}`,
        email: `flood${i}.${process.pid}@example.com`,
        password: 'correct horse battery',
        role: 'student',
      },
    })
  for (let i = 0; i < 3; i++) t.equal((await attempt(i)).statusCode, 201)
  const limited = await attempt(3)
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.equal((await attempt(4, '10.7.0.2')).statusCode, 201, 'another address may')
})

t.test('a flood of password checks cannot queue unbounded work', async (t) => {
  const queue = new HashQueue({ concurrency: 1, maxQueued: 2 })
  // Real argon2 cost, so a hash takes longer than a flood takes to arrive.
  const { app } = await setup(t, limits, {
    overrides: { hashQueue: queue, passwords: createPasswordChecker(OWASP_ARGON2) },
  })
  const flood = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      guess(app, `unknown_${i}`, 'wrong guess', `10.8.${i >> 8}.${i & 255}`),
    ),
  )
  const codes = flood.map((a) => a.statusCode)
  t.ok(
    codes.every((c) => c === 401 || c === 503),
    'each a 401 or a 503',
  )
  const busy = flood.filter((a) => a.statusCode === 503)
  t.ok(busy.length > 0, `${busy.length} turned away`)
  for (const b of busy) {
    t.equal(b.headers['retry-after'], '1')
    t.match(b.json(), { type: 'about:blank', title: 'Service Unavailable', status: 503 })
  }
  t.ok(queue.stats.peakRunning <= 1, `at most 1 hash at once (${queue.stats.peakRunning})`)
  t.ok(queue.stats.peakQueued <= 2, `at most 2 waiting (${queue.stats.peakQueued})`)
  t.equal(queue.stats.refused, busy.length)
  // Nothing is left over: the next login runs at once.
  t.equal(queue.running + queue.queued, 0)
  const user = await signup(app)
  t.ok(await login(app, user.username, user.password))
})

t.test('only the login takes a form; other bodies are JSON or 415', async (t) => {
  const { app, db } = await setup(t)
  const admin = await signup(app)
  await db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.id).execute()
  const { access_token: token } = await login(app, admin.username, admin.password)
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const cases: [string, string, Record<string, string>][] = [
    [
      'POST',
      '/auth/signup',
      { username: 'formy', email: 'f@example.com', password: 'long enough', role: 'student' },
    ],
    ['PATCH', '/auth/update-role', { user_id: admin.id, role: 'tutor' }],
    [
      'PATCH',
      '/auth/password',
      { current_password: admin.password, new_password: 'long enough 2' },
    ],
    ['PATCH', '/auth/email', { current_password: admin.password, new_email: 'g@example.com' }],
    ['POST', '/auth/refresh', { refresh_token: 'x' }],
    ['POST', '/auth/logout', { refresh_token: 'x' }],
    ['POST', '/auth/forgot-password/request-otp', { email: admin.email }],
    [
      'POST',
      '/auth/forgot-password/reset',
      { email: admin.email, otp: '123456', new_password: 'long enough 3' },
    ],
  ]
  for (const [method, url, fields] of cases) {
    const res = await app.inject({
      method: method as 'POST',
      url,
      headers: { ...form, ...bearer(token) },
      payload: new URLSearchParams(fields).toString(),
    })
    t.equal(res.statusCode, 415, `${method} ${url}`)
    t.match(res.json(), { status: 415, title: 'Unsupported Media Type' })
  }
  const user = await db
    .selectFrom('users')
    .select('role')
    .where('id', '=', admin.id)
    .executeTakeFirst()
  t.equal(user?.role, 'admin', 'nothing changed')
})

t.test('X-Forwarded-For counts only from a trusted proxy', async (t) => {
  // TRUST_PROXY names the gateway; anyone else choosing their own address gets nowhere.
  const { app } = await setup(t, { rateLimitSignupPerAddress: 2, trustProxy: '10.0.0.1' })
  let n = 0
  const attempt = (remoteAddress: string, forwardedFor: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/signup',
      remoteAddress,
      headers: { 'x-forwarded-for': forwardedFor },
      payload: {
        username: `xff_${process.pid}_${++n}`,
        email: `xff${n}.${process.pid}@example.com`,
        password: 'correct horse battery',
        role: 'student',
      },
    })
  const direct = []
  for (let i = 0; i < 3; i++) direct.push((await attempt('10.0.0.9', `192.0.2.${i}`)).statusCode)
  t.same(direct, [201, 201, 429], 'an untrusted peer is counted by its own address')
  const viaGateway = []
  for (let i = 0; i < 3; i++)
    viaGateway.push((await attempt('10.0.0.1', `198.51.100.${i}`)).statusCode)
  t.same(viaGateway, [201, 201, 201], 'through the gateway, by the address it saw')
  t.equal((await attempt('10.0.0.1', '198.51.100.0')).statusCode, 201)
  t.equal((await attempt('10.0.0.1', '198.51.100.0')).statusCode, 429)
})
