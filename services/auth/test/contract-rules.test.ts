// What a route accepts, the event it publishes must accept too: otherwise a request fails inside
// its transaction, after the work, with a 500 (an email with a 64-character domain label did).
// Generated bodies, checked with the routes' own validation and the event contract.
import { ContractError, normalizeEmail, normalizeUsername } from '@tms/contracts'
import { transaction } from '@tms/db'
import { HttpProblem, routeSchemaCheck } from '@tms/http'
import {
  contractAccepts,
  emailLike,
  fuzzSettings,
  nameLike,
  phoneLike,
  usernameLike,
} from '@tms/testing'
import fc from 'fast-check'
import t from 'tap'
import { userRegistered } from '../src/events/publish.ts'
import { problemFor } from '../src/routes/problems.ts'
import { EmailChangeBody, SignupBody } from '../src/routes/schemas/accounts.ts'
import { OtpRequestBody, ResetBody, VerifyQuery } from '../src/routes/schemas/passwords.ts'
import { newAccount, outboxEvents, setup } from './helpers.ts'

t.test('a signup the route accepts is a registered event the contract accepts', async (t) => {
  const accepts = routeSchemaCheck(SignupBody, 'body')
  const body = fc.record(
    {
      username: usernameLike,
      email: emailLike,
      password: fc.constant('correct horse battery'),
      role: fc.constantFrom('student', 'tutor'),
      name: nameLike,
      phone: phoneLike,
    },
    { requiredKeys: ['username', 'email', 'password', 'role'] },
  )
  let accepted = 0
  fc.assert(
    fc.property(body, (b) => {
      if (!accepts(structuredClone(b))) return true
      accepted++
      return contractAccepts('auth.user.registered', {
        user_id: '0190a0b0-0000-7000-8000-000000000000',
        username: normalizeUsername(b.username),
        email: normalizeEmail(b.email),
        role: b.role,
        name: b.name ?? null,
        phone: b.phone ?? null,
      })
    }),
    fuzzSettings(t, { numRuns: 20_000 }),
  )
  t.ok(accepted > 1000, `the route accepted ${accepted} of the generated bodies`)
})

t.test('an email the routes accept is an email the contract accepts', async (t) => {
  const checks = [
    routeSchemaCheck(EmailChangeBody, 'body'),
    routeSchemaCheck(OtpRequestBody, 'body'),
    routeSchemaCheck(ResetBody, 'body'),
  ]
  const verify = routeSchemaCheck(VerifyQuery, 'querystring')
  let agreed = 0
  fc.assert(
    fc.property(emailLike, (email) => {
      const accepted = [
        checks[0]?.({ current_password: 'x', new_email: email }),
        checks[1]?.({ email }),
        checks[2]?.({ email, otp: '123456', new_password: 'long enough' }),
        verify({ email, otp: '123456' }),
      ]
      // One rule: the routes agree with each other, and what they take the contract takes.
      if (!accepted.every((a) => a === accepted[0])) return false
      if (!accepted[0]) return true
      agreed++
      return contractAccepts('auth.user.email-changed', {
        user_id: 'u1',
        email: normalizeEmail(email),
      })
    }),
    fuzzSettings(t, { numRuns: 20_000 }),
  )
  t.ok(agreed > 1000, `the routes accepted ${agreed} of the generated emails`)
})

t.test('the addresses the attack found are a 400 at the route, not a 500', async (t) => {
  const { app, db } = await setup(t)
  const longLabel = `ada@${'a'.repeat(64)}.example.com`
  for (const email of [
    longLabel,
    `${'a'.repeat(65)}@example.com`,
    'ada@[10.0.0.1]',
    'ada@localhost',
  ]) {
    const signup = await app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: newAccount({ email }),
    })
    t.equal(signup.statusCode, 400, email)
    t.equal(signup.json().errors?.[0]?.field, 'email', email)
  }
  for (const name of ['Ada\u0000', 'Ada\u202egnp.exe', 'Ada\u2066x\u2069', 'Ada\u0007', '   ']) {
    const signup = await app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: newAccount({ name }),
    })
    t.equal(signup.statusCode, 400, JSON.stringify(name))
    t.equal(signup.json().errors?.[0]?.field, 'name')
  }
  const at63 = await app.inject({
    method: 'POST',
    url: '/auth/signup',
    payload: newAccount({ email: `ada@${'a'.repeat(63)}.example.com` }),
  })
  t.equal(at63.statusCode, 201, 'a 63-character label is fine')
  t.equal((await outboxEvents(db)).length, 1)
})

t.test('a contract refusal inside a request is a 400 problem and writes nothing', async (t) => {
  const { db, bus, clock } = await setup(t)
  // The routes never send the contract a value it refuses (the properties above); were one
  // to, the request's transaction rolls back and it answers a 400 problem, never a 500.
  const user = { id: 'u1', username: 'ada', email: 'ada@example.com', role: 'student' as const }
  const failed = transaction(db, async (trx) => {
    await trx
      .insertInto('users')
      .values({
        ...user,
        password_hash: 'x',
        name: null,
        phone: null,
        created_at: clock.now(),
        updated_at: clock.now(),
      })
      .execute()
    await userRegistered(bus, trx, {
      ...user,
      email: `ada@${'a'.repeat(64)}.com`,
      name: null,
      phone: null,
    })
  })
  const err = await failed.catch((e: unknown) => e)
  t.type(err, ContractError)
  const users = await db.selectFrom('users').select('id').execute()
  t.same(users, [], 'rolled back')
  t.same(await outboxEvents(db), [])
  const problem = problemFor(err)
  t.type(problem, HttpProblem)
  t.match(problem, {
    statusCode: 400,
    message: 'the request holds a value that cannot be recorded',
    cause: err,
  })
})
