import { createLogger } from '@tms/logging'
import { captureLogs } from '@tms/testing'
import t from 'tap'
import { type AuthHarness, login, setup, signup } from './helpers.ts'

/** The code from the newest mail to the address (what the user reads in their inbox). */
async function mailedCode(h: AuthHarness, email: string): Promise<string> {
  const mail = await h.db
    .selectFrom('mail_outbox')
    .select('body')
    .where('recipient', '=', email)
    .orderBy('seq', 'desc')
    .executeTakeFirstOrThrow()
  const code = /\b(\d{6})\b/.exec(mail.body ?? '')?.[1]
  if (!code) throw new Error('no code in the mail')
  return code
}

function requestOtp(h: AuthHarness, email: string) {
  return h.app.inject({
    method: 'POST',
    url: '/auth/forgot-password/request-otp',
    payload: { email },
  })
}

function verify(h: AuthHarness, email: string, otp: string) {
  return h.app.inject({
    method: 'GET',
    url: `/auth/verify?${new URLSearchParams({ email, otp })}`,
  })
}

function reset(h: AuthHarness, email: string, otp: string, newPassword = 'a fresh new password') {
  return h.app.inject({
    method: 'POST',
    url: '/auth/forgot-password/reset',
    payload: { email, otp, new_password: newPassword },
  })
}

const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0')

t.test('the same 202 for a known and an unknown email; mail only for the known', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  const known = await requestOtp(h, user.email.toUpperCase())
  const unknown = await requestOtp(h, 'nobody@example.com')
  t.equal(known.statusCode, 202)
  t.equal(unknown.statusCode, 202)
  t.equal(known.body, unknown.body)
  const mails = await h.db.selectFrom('mail_outbox').selectAll().execute()
  t.equal(mails.length, 1)
  t.equal(mails[0]?.recipient, user.email)
  t.match(mails[0]?.body, /\b\d{6}\b/)
  const stored = await h.db.selectFrom('password_reset_otps').selectAll().executeTakeFirstOrThrow()
  t.match(stored.code_hash, /^[0-9a-f]{64}$/)
  t.notMatch(stored.code_hash, await mailedCode(h, user.email), 'only an HMAC is stored')
})

t.test('known and unknown emails both wait out the minimum answer time', async (t) => {
  const h = await setup(t, { otpRequestMinMs: 80 })
  const user = await signup(h.app)
  for (const email of [user.email, 'nobody@example.com']) {
    const started = performance.now()
    t.equal((await requestOtp(h, email)).statusCode, 202)
    // A lower bound only: the answer waits at least this long whatever the email.
    t.ok(performance.now() - started >= 79, `${email} answered after the minimum`)
  }
})

t.test('verify and reset wait out the minimum too, whatever the email and code', async (t) => {
  // A wrong try on a live code commits a count; an unknown email writes nothing: the floor
  // hides that difference.
  const h = await setup(t, { otpRequestMinMs: 80 })
  const user = await signup(h.app)
  await requestOtp(h, user.email)
  const code = await mailedCode(h, user.email)
  for (const [what, email, otp] of [
    ['a wrong code', user.email, wrongCode(code)],
    ['an unknown email', 'nobody@example.com', code],
    ['the right code', user.email, code],
  ] as const) {
    let started = performance.now()
    const verified = await verify(h, email, otp)
    t.ok(performance.now() - started >= 79, `verify, ${what}: after the minimum`)
    started = performance.now()
    const reset = await h.app.inject({
      method: 'POST',
      url: '/auth/forgot-password/reset',
      payload: { email, otp: wrongCode(otp), new_password: 'another long password' },
    })
    t.equal(reset.statusCode, 400, `reset with a wrong code (${verified.statusCode})`)
    t.ok(performance.now() - started >= 79, `reset, ${what}: after the minimum`)
  }
})

t.test('verify does not spend; reset spends, sets the password, revokes tokens', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  const session = await login(h.app, user.username, user.password)
  await requestOtp(h, user.email)
  const code = await mailedCode(h, user.email)

  const ok = await verify(h, user.email, code)
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { valid: true })
  t.equal((await verify(h, user.email, code)).statusCode, 200, 'still valid after verify')

  t.equal((await reset(h, user.email, code)).statusCode, 204)
  t.equal((await reset(h, user.email, code, 'yet another password')).statusCode, 400, 'single use')
  t.equal((await verify(h, user.email, code)).statusCode, 400)

  await t.rejects(login(h.app, user.username, user.password))
  t.ok(await login(h.app, user.username, 'a fresh new password'))
  const refresh = await h.app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refresh_token: session.refresh_token },
  })
  t.equal(refresh.statusCode, 401, 'earlier refresh tokens are revoked')
})

t.test('a code expires after 10 minutes', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  await requestOtp(h, user.email)
  const code = await mailedCode(h, user.email)
  h.clock.advance(9 * 60 * 1000)
  t.equal((await verify(h, user.email, code)).statusCode, 200)
  h.clock.advance(60 * 1000)
  const expired = await verify(h, user.email, code)
  t.equal(expired.statusCode, 400)
  t.same(expired.json().errors, [{ field: 'otp', message: 'is wrong or has expired' }])
  t.equal((await reset(h, user.email, code)).statusCode, 400)
})

t.test('the fifth wrong try kills the code, counted across verify and reset', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  await requestOtp(h, user.email)
  const code = await mailedCode(h, user.email)
  const wrong = wrongCode(code)
  t.equal((await verify(h, user.email, wrong)).statusCode, 400)
  t.equal((await reset(h, user.email, wrong)).statusCode, 400)
  t.equal((await verify(h, user.email, wrong)).statusCode, 400)
  t.equal((await reset(h, user.email, wrong)).statusCode, 400)
  t.equal((await verify(h, user.email, code)).statusCode, 200, 'four wrong tries: still alive')
  t.equal((await verify(h, user.email, wrong)).statusCode, 400)
  t.equal((await verify(h, user.email, code)).statusCode, 400, 'dead after the fifth')
  t.equal((await reset(h, user.email, code)).statusCode, 400)
  await t.resolves(login(h.app, user.username, user.password), 'the password is unchanged')
})

t.test('a new request replaces the old code and its tries', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  await requestOtp(h, user.email)
  const first = await mailedCode(h, user.email)
  for (let i = 0; i < 4; i++) await verify(h, user.email, wrongCode(first))
  await requestOtp(h, user.email)
  const second = await mailedCode(h, user.email)
  // (A one-in-a-million chance that the new code equals the old one.)
  const stale = second === first ? wrongCode(second) : first
  t.equal((await verify(h, user.email, stale)).statusCode, 400, 'the old code is gone')
  for (let i = 0; i < 3; i++) await verify(h, user.email, wrongCode(second))
  t.equal((await verify(h, user.email, second)).statusCode, 200, 'the tries started again')
})

t.test('malformed input is 400; a weak new password does not spend the code', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  await requestOtp(h, user.email)
  const code = await mailedCode(h, user.email)
  t.equal((await verify(h, user.email, '12345')).statusCode, 400)
  t.equal((await verify(h, 'not-an-email', code)).statusCode, 400)
  t.equal((await reset(h, user.email, code, 'short')).statusCode, 400)
  const same = await reset(h, user.email, code, user.username)
  t.equal(same.statusCode, 400)
  t.same(same.json().errors, [
    { field: 'new_password', message: 'must not be the username or the email' },
  ])
  t.equal((await verify(h, user.email, code)).statusCode, 200, 'still valid')
  const extra = await h.app.inject({
    method: 'POST',
    url: '/auth/forgot-password/request-otp',
    payload: { email: user.email, user_id: 'x' },
  })
  t.equal(extra.statusCode, 400)
})

t.test('OTP request, verify and reset are rate limited with Retry-After', async (t) => {
  const h = await setup(t, { rateLimitPerAccount: 2, rateLimitPerAddress: 100 })
  const user = await signup(h.app)
  t.equal((await requestOtp(h, user.email)).statusCode, 202)
  t.equal((await requestOtp(h, user.email)).statusCode, 202)
  const limited = await requestOtp(h, user.email)
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0)
  const code = await mailedCode(h, user.email)
  await verify(h, user.email, code)
  await verify(h, user.email, code)
  t.equal((await verify(h, user.email, code)).statusCode, 429)
  await reset(h, user.email, '000000', 'whatever password')
  await reset(h, user.email, '000000', 'whatever password')
  t.equal((await reset(h, user.email, code)).statusCode, 429)
})

t.test('the code never reaches the log', async (t) => {
  const logs = captureLogs()
  const h = await setup(
    t,
    {},
    { logger: createLogger({ service: 'auth', level: 'trace', destination: logs.destination }) },
  )
  const lines = () => logs.lines.map((l) => JSON.stringify(l))
  const user = await signup(h.app)
  await requestOtp(h, user.email)
  const code = await mailedCode(h, user.email)
  await verify(h, user.email, code)
  await verify(h, user.email, wrongCode(code))
  await reset(h, user.email, code)
  t.ok(
    lines().some((l) => l.includes('/auth/verify')),
    'requests were logged',
  )
  t.notOk(
    lines().some((l) => l.includes(code)),
    'the code was not',
  )
  t.notOk(
    lines().some((l) => l.includes(user.password)),
    'nor the password',
  )
})

t.test('verify does the same work for a known and an unknown email', async (t) => {
  // Counted by the database statements each answer runs (a timing test would depend on the
  // machine's load): the same statements, in the same order, known email or not.
  let statements: string[] = []
  const h = await setup(
    t,
    {},
    {
      wrapDb: (db) =>
        db.withPlugin({
          transformQuery(args) {
            statements.push(args.node.kind)
            return args.node
          },
          async transformResult(args) {
            return args.result
          },
        }),
    },
  )
  const withCode = await signup(h.app)
  const withoutCode = await signup(h.app)
  await requestOtp(h, withCode.email)
  const code = await mailedCode(h, withCode.email)
  const work = async (email: string) => {
    statements = []
    const res = await verify(h, email, wrongCode(code))
    t.equal(res.statusCode, 400, email)
    return statements
  }
  const known = await work(withCode.email)
  t.same(known, ['SelectQueryNode', 'UpdateQueryNode'])
  t.same(await work('nobody@example.com'), known, 'an unknown email')
  t.same(await work(withoutCode.email), known, 'a known email without a code')
  const stored = await h.db.selectFrom('password_reset_otps').selectAll().executeTakeFirstOrThrow()
  t.equal(stored.failed_attempts, 1, 'only the wrong try on a live code counted')
})
