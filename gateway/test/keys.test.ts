// The signing keys: cached from auth's JWKS, refetched on an unknown kid at most once per
// interval, and still used while auth is down.
import http from 'node:http'
import { createTestIssuer, eventually, jwksPath } from '@tms/testing'
import t from 'tap'
import { bearer, deadOrigin, loginAs, startGateway, startSystem } from './helpers.ts'

t.test('with auth stopped, requests with valid tokens still pass on the cached keys', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const student = await loginAs(system, 'student')
  const first = await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
  t.equal(first.statusCode, 200, first.body)
  // The wallet fetched auth's keys too; from now on neither needs auth.
  await system.auth.stop()

  const cachedToken = await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
  t.equal(cachedToken.statusCode, 200, 'the same token: the verify cache')
  const fresh = await system.auth.sign({
    sub: student.id,
    role: 'student',
    username: student.username,
  })
  const freshToken = await app.inject({ url: '/user/me', headers: bearer(fresh) })
  t.equal(freshToken.statusCode, 200, 'a token never seen, signed by the cached key')

  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: student.username, password: 'x' },
  })
  t.equal(login.statusCode, 503, 'auth itself is down')
})

t.test('a flood of unknown kids costs auth at most one JWKS fetch per interval', async (t) => {
  const system = await startSystem(t, { jwksMinRefetchMs: 30_000 })
  const { app, clock } = system.gateway
  const student = await loginAs(system, 'student')
  const claims = { sub: student.id, role: 'student', username: student.username }
  t.equal(
    (await app.inject({ url: '/user/me', headers: bearer(student.access_token) })).statusCode,
    200,
  )
  const fetchesBefore = system.auth.jwksHits.length
  const walletHitsBefore = system.wallet.hits.length

  const flood = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const token = await system.auth.sign(claims, { kid: `made-up-${i}` })
      return (await app.inject({ url: '/user/me', headers: bearer(token) })).statusCode
    }),
  )
  t.same(new Set(flood), new Set([401]), 'every made-up kid is 401')
  const fetched = system.auth.jwksHits.length - fetchesBefore
  t.ok(fetched <= 1, `auth saw ${fetched} JWKS fetch for 200 made-up kids`)
  t.equal(system.wallet.hits.length, walletHitsBefore, 'none reached the wallet')

  // After the interval, one more unknown kid may ask again; and once, however many ask.
  clock.advance(30_000)
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const token = await system.auth.sign(claims, { kid: `later-${i}` })
      await app.inject({ url: '/user/me', headers: bearer(token) })
    }),
  )
  t.equal(system.auth.jwksHits.length - fetchesBefore, fetched + 1, 'one more fetch, not 50')
})

t.test('no keys at all (auth never reached): 503, not 401', async (t) => {
  const system = await startSystem(t)
  const student = await loginAs(system, 'student')
  await system.auth.stop()
  const res = await system.gateway.app.inject({
    url: '/user/me',
    headers: bearer(student.access_token),
  })
  t.equal(res.statusCode, 503, res.body)
  t.match(res.json(), { status: 503, detail: /could not be checked/ })
  t.ok(res.headers['retry-after'])
})

t.test(
  'started before auth, the gateway becomes ready once readiness probes get the keys',
  async (t) => {
    const issuer = await createTestIssuer()
    const port = Number(new URL(await deadOrigin()).port)
    const jwksUrl = `http://127.0.0.1:${port}${jwksPath}`
    const dead = await deadOrigin()
    const { app } = await startGateway(t, {
      jwksUrl,
      origins: { auth: [dead], user: [dead], academic: [dead], notifications: [dead] },
    })
    t.equal((await app.inject({ url: '/health/ready' })).statusCode, 503, 'no keys yet')

    // Auth comes up (here: its key set served where the gateway looks for it).
    const body = JSON.stringify(issuer.jwks)
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    await eventually(async () => (await app.inject({ url: '/health/ready' })).statusCode === 200, {
      what: 'the gateway to be ready',
    })
    t.pass('ready without any request having needed a key')
  },
)
