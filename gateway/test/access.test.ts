// Who passes the edge: bad tokens of every kind are 401 before any service sees them, roles the
// table refuses are 403, unlisted routes 404; good tokens pass unchanged.
import { createHmac } from 'node:crypto'
import { createLogger } from '@tms/logging'
import { captureLogs } from '@tms/testing'
import { base64url } from 'jose'
import t from 'tap'
import { bearer, loginAs, startSystem } from './helpers.ts'

t.test('bad tokens are refused at the edge before any service sees them', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const student = await loginAs(system, 'student')
  const claims = { sub: student.id, role: 'student', username: student.username }

  // A good token first, so the keys are cached and the pass-through is shown.
  const ok = await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.json().id, student.id)

  const [header, payload] = student.access_token.split('.') as [string, string, string]
  const now = Math.floor(Date.now() / 1000)
  const publicPem = (await system.gateway.keys.key(system.auth.keys.kid)).toString()
  const hs256 = (() => {
    const h = base64url.encode(
      JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: system.auth.keys.kid }),
    )
    const p = base64url.encode(
      JSON.stringify({
        ...claims,
        iss: system.auth.issuer,
        aud: 'tms-api',
        iat: now,
        exp: now + 900,
      }),
    )
    const sig = createHmac('sha256', publicPem).update(`${h}.${p}`).digest('base64url')
    return `${h}.${p}.${sig}`
  })()
  const unsigned = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${payload}.`
  const tampered = (() => {
    const claimsOf = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const forged = base64url.encode(JSON.stringify({ ...claimsOf, role: 'admin' }))
    return `${header}.${forged}.${student.access_token.split('.')[2]}`
  })()

  const cases: [string, Record<string, string>][] = [
    ['no token', {}],
    ['expired', bearer(await system.auth.sign({ ...claims, iat: now - 2000, exp: now - 1000 }))],
    ['tampered payload', bearer(tampered)],
    ['alg none', bearer(unsigned)],
    ['HS256 signed with the public key', bearer(hs256)],
    ['wrong audience', bearer(await system.auth.sign({ ...claims, aud: 'another-api' }))],
    ['wrong issuer', bearer(await system.auth.sign({ ...claims, iss: 'someone-else' }))],
    ['wrong typ', bearer(await system.auth.sign(claims, { typ: 'JWT' }))],
    [
      'issued in the future',
      bearer(await system.auth.sign({ ...claims, iat: now + 3600, exp: now + 4000 })),
    ],
    ['no exp', bearer(await system.auth.sign({ ...claims, exp: undefined }))],
    ['refresh token', bearer(student.refresh_token)],
    ['padded signature', bearer(`${student.access_token}=`)],
    ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
  ]
  const before = system.wallet.hits.length
  for (const [what, headers] of cases) {
    const res = await app.inject({ url: '/user/me', headers })
    t.equal(res.statusCode, 401, `${what}: ${res.body}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, what)
    t.match(res.headers['www-authenticate'], /^Bearer/, what)
  }
  t.equal(system.wallet.hits.length, before, 'the wallet service saw none of them')
})

t.test('roles the table refuses are 403 at the edge; unlisted routes 404', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const student = await loginAs(system, 'student')
  const admin = await loginAs(system, 'admin')
  const before = system.wallet.hits.length + system.auth.hits.length

  const deposit = {
    method: 'POST' as const,
    url: `/user/${student.id}/deposit`,
    payload: { amount: 500 },
  }
  const refused = await app.inject({ ...deposit, headers: bearer(student.access_token) })
  t.equal(refused.statusCode, 403, refused.body)
  t.equal(refused.json().status, 403)
  const role = await app.inject({
    method: 'PATCH',
    url: '/auth/update-role',
    headers: bearer(student.access_token),
    payload: { user_id: student.id, role: 'admin' },
  })
  t.equal(role.statusCode, 403)

  for (const [method, url] of [
    ['GET', '/user/metrics'],
    ['GET', '/auth/metrics'],
    ['GET', '/auth/health/ready'],
    ['GET', '/user/openapi.json'],
    ['DELETE', '/user/me'],
    ['GET', '/internal/anything'],
    ['GET', '/metrics'],
    ['POST', '/auth/.well-known/jwks.json'],
  ] as const) {
    const res = await app.inject({ method, url, headers: bearer(admin.access_token) })
    t.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  }
  t.equal(system.wallet.hits.length + system.auth.hits.length, before, 'no service saw them')

  const allowed = await app.inject({ ...deposit, headers: bearer(admin.access_token) })
  t.equal(allowed.statusCode, 200, allowed.body)
  t.equal(allowed.json().balance, 500)
})

t.test('public routes pass without a token; optional ones refuse a bad token', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const jwks = await app.inject({ url: '/auth/.well-known/jwks.json' })
  t.equal(jwks.statusCode, 200)
  t.ok(jwks.json().keys.length > 0)
  const root = await app.inject({ url: '/' })
  t.same(root.json(), { status: 'ok', service: 'gateway' })

  // Anonymous browsing of tutor profiles reaches the (stand-in) academic service.
  const browse = await app.inject({ url: '/academic/tutor-profiles?subject=math' })
  t.equal(browse.statusCode, 200)
  const badToken = await app.inject({
    url: '/academic/tutor-profiles',
    headers: bearer('abc.def.ghi'),
  })
  t.equal(badToken.statusCode, 401)
})

t.test('a token verified before stops passing when it expires by the clock', async (t) => {
  const system = await startSystem(t)
  const { app, clock } = system.gateway
  const student = await loginAs(system, 'student')
  const first = await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
  t.equal(first.statusCode, 200)
  clock.advance(16 * 60 * 1000)
  const later = await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
  t.equal(later.statusCode, 401, 'the cached verification does not outlive exp')
  t.match(later.json(), { detail: /expired/ })
})

t.test('every log line of a request carries its request id', async (t) => {
  const logs = captureLogs()
  const logger = createLogger({ service: 'gateway', level: 'info', destination: logs.destination })
  const system = await startSystem(t, { logger })
  const student = await loginAs(system, 'student')
  const ids = ['log-check-1', 'log-check-2', 'log-check-3']
  await system.gateway.app.inject({
    url: '/user/me',
    headers: { ...bearer(student.access_token), 'x-request-id': ids[0] },
  })
  await system.gateway.app.inject({ url: '/user/me', headers: { 'x-request-id': ids[1] } })
  await system.gateway.app.inject({ url: '/nowhere', headers: { 'x-request-id': ids[2] } })
  await system.files.stop()
  await system.gateway.app.inject({
    url: '/academic/class-sessions',
    headers: { ...bearer(student.access_token), 'x-request-id': 'log-check-4' },
  })
  const requestLines = logs.lines.filter((l) => l.req || l.res || l.url || l.err || l.reason)
  t.ok(requestLines.length >= 4, `${requestLines.length} lines about requests`)
  for (const line of requestLines) {
    t.ok(typeof line.request_id === 'string', `"${line.msg}" has a request id`)
  }
  for (const id of [...ids, 'log-check-4']) {
    t.ok(
      requestLines.some((l) => l.request_id === id),
      `${id} logged`,
    )
  }
})
