// The wallet's routes take the same account fields as the auth service's events carry: a
// profile made or edited here holds only what a registered event could have brought.
import { normalizeEmail, normalizeUsername } from '@tms/contracts'
import { routeSchemaCheck } from '@tms/http'
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
import { CreateBody, EmailParams, UpdateBody } from '../src/routes/schemas/user.ts'
import { addUser, walletService } from './helpers.ts'

const registeredSample = {
  user_id: 'u1',
  username: 'ada',
  email: 'ada@example.com',
  role: 'student',
  name: null,
  phone: null,
}

const registeredAccepts = (data: object) => contractAccepts('auth.user.registered', data)

t.test('a profile the routes accept is one the registered event could carry', async (t) => {
  const create = routeSchemaCheck(CreateBody, 'body')
  const update = routeSchemaCheck(UpdateBody, 'body')
  const lookup = routeSchemaCheck(EmailParams, 'params')
  let accepted = 0
  const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null })
  fc.assert(
    fc.property(
      fc.record(
        {
          user_id: fc.constant('u1'),
          username: usernameLike,
          email: emailLike,
          name: nullable(nameLike),
          phone: nullable(phoneLike),
        },
        { requiredKeys: ['user_id', 'username', 'email'] },
      ),
      (body) => {
        const profile = {
          user_id: body.user_id,
          username: normalizeUsername(body.username),
          email: normalizeEmail(body.email),
          role: 'student',
          name: body.name ?? null,
          phone: body.phone ?? null,
        }
        const { user_id: _, username: __, email: ___, ...changes } = body
        if (update(changes) && !registeredAccepts({ ...registeredSample, ...changes })) {
          return false
        }
        if (
          lookup({ email: body.email }) &&
          !registeredAccepts({ ...registeredSample, email: normalizeEmail(body.email) })
        ) {
          return false
        }
        if (!create(structuredClone(body))) return true
        accepted++
        return registeredAccepts(profile)
      },
    ),
    fuzzSettings(t, { numRuns: 20_000 }),
  )
  t.ok(accepted > 1000, `the route accepted ${accepted} of the generated bodies`)
})

t.test('names with control or bidirectional characters are a 400', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, 'alice1')
  const auth = { authorization: `Bearer ${await token({ id: 'alice1', role: 'student' })}` }
  for (const name of ['Ada\u0000', 'Ada\u202egnp.exe', 'Ada\u2066x\u2069', 'Ada\u0007', '   ']) {
    const res = await app.inject({
      method: 'PATCH',
      url: '/user/alice1/update',
      headers: auth,
      payload: { name },
    })
    t.equal(res.statusCode, 400, JSON.stringify(name))
    t.equal(res.json().errors?.[0]?.field, 'name')
  }
  const ok = await app.inject({
    method: 'PATCH',
    url: '/user/alice1/update',
    headers: auth,
    payload: { name: 'Ada 😀' },
  })
  t.equal(ok.statusCode, 200)
})
