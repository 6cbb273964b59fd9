import { bearerSecurity, buildFastify } from '@tms/http'
import { createImpostorIssuer, createTestIssuer } from '@tms/testing'
import { base64url, SignJWT } from 'jose'
import t from 'tap'
import {
  accessTokens,
  authenticate,
  authenticateOptional,
  createAccessTokenVerifier,
  currentUser,
  requireAuthentication,
  requireRole,
} from '../src/index.ts'

const alice = { sub: 'u-alice', role: 'student' as const, username: 'alice' }
const root = { sub: 'u-root', role: 'admin' as const, username: 'root' }

async function setup(t: { teardown(fn: () => unknown): void }, remote = false) {
  const issuer = await createTestIssuer()
  const keys = remote ? { jwksUrl: await issuer.serveJwks(t) } : { jwks: issuer.jwks }
  const verify = createAccessTokenVerifier({ issuer: issuer.issuer, keys })
  const app = await buildFastify({
    service: 'test',
    logLevel: 'silent',
  })
  await app.register(accessTokens, { verify })
  app.get('/me', { onRequest: authenticate }, async (request) => currentUser(request))
  app.get('/admin', { onRequest: requireRole('admin') }, async () => ({ ok: true }))
  app.get('/maybe', { onRequest: authenticateOptional }, async (request) => ({
    user: request.user,
  }))
  t.teardown(() => app.close())
  const call = (url: string, token?: string) =>
    app.inject({
      method: 'GET',
      url,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    })
  return { issuer, verify, app, call }
}

t.test('a valid token sets request.user', async (t) => {
  const { issuer, call } = await setup(t)
  const res = await call('/me', await issuer.mint(alice))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { id: 'u-alice', role: 'student', username: 'alice' })
})

t.test('keys from a remote JWKS URL', async (t) => {
  const { issuer, call } = await setup(t, true)
  const res = await call('/me', await issuer.mint(alice))
  t.equal(res.statusCode, 200)
})

t.test('no token: 401 with a Bearer challenge', async (t) => {
  const { call } = await setup(t)
  const res = await call('/me')
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer')
  t.match(res.headers['content-type'], /problem\+json/)
  t.match(res.json(), { status: 401, title: 'Unauthorized' })

  const basic = await (await setup(t)).app.inject({
    method: 'GET',
    url: '/me',
    headers: { authorization: 'Basic YWxpY2U6cHc=' },
  })
  t.equal(basic.statusCode, 401)
  t.equal(basic.headers['www-authenticate'], 'Bearer error="invalid_request"')
})

t.test('bad tokens are all the same 401', async (t) => {
  const { issuer, call } = await setup(t)
  const impostor = await createImpostorIssuer(issuer)
  const good = await issuer.mint(alice)
  const [header, payload, signature] = good.split('.') as [string, string, string]
  const forgedPayload = base64url.encode(
    JSON.stringify({
      ...JSON.parse(new TextDecoder().decode(base64url.decode(payload))),
      role: 'admin',
    }),
  )
  // HS256 "signed" with the public key's JSON: the classic algorithm confusion.
  const hmacWithPublicKey = await new SignJWT({ ...alice, iss: issuer.issuer, aud: 'tms-api' })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: issuer.kid })
    .setExpirationTime('15m')
    .sign(new TextEncoder().encode(JSON.stringify(issuer.jwks.keys[0])))

  const cases: Record<string, string> = {
    tampered: `${header}.${forgedPayload}.${signature}`,
    'bad signature': `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
    expired: await issuer.mint(alice, { expiresIn: -60 }),
    'alg none': issuer.mintUnsigned(alice),
    'wrong key': await impostor.mint(alice),
    'unknown kid': await issuer.mint(alice, { kid: 'other' }),
    'wrong audience': await issuer.mint(alice, { audience: 'someone-else' }),
    'wrong issuer': await issuer.mint(alice, { issuer: 'evil' }),
    'wrong typ (an ID token)': await issuer.mint(alice, { typ: 'JWT' }),
    'HS256 with the public key': hmacWithPublicKey,
    'not yet valid': await issuer.mint(alice, { notBefore: 3600 }),
    'issued in the future': await issuer.mint(alice, { issuedAt: 600 }),
    'issued over an hour ago': await issuer.mint(alice, { issuedAt: -3700, expiresIn: 60 }),
    'no iat': await new SignJWT({ ...alice, iss: issuer.issuer, aud: 'tms-api' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: issuer.kid })
      .setExpirationTime('10m')
      .sign(issuer.privateKey),
    'signature with = padding': `${good}=`,
    'signature with == padding': `${good}==`,
    'no role': await issuer.mint({ ...alice, role: undefined as never }),
    'an unknown role': await issuer.mint({ ...alice, role: 'superuser' as never }),
    'no username': await issuer.mint({ ...alice, username: undefined as never }),
    'an opaque refresh token': 'bXlyZWZyZXNodG9rZW4',
    garbage: 'a.b.c',
  }
  let firstBody: unknown
  for (const [name, token] of Object.entries(cases)) {
    const res = await call('/me', token)
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', name)
    firstBody ??= res.json()
    t.same(res.json(), firstBody, `${name}: the same body`)
  }
})

t.test('role guards: 401 without a token, 403 for another role', async (t) => {
  const { issuer, call } = await setup(t)
  t.equal((await call('/admin')).statusCode, 401)
  const student = await call('/admin', await issuer.mint(alice))
  t.equal(student.statusCode, 403)
  t.match(student.json(), { status: 403, title: 'Forbidden' })
  t.equal((await call('/admin', await issuer.mint(root))).statusCode, 200)
})

t.test('a scope that requires authentication: every route of it, and only those', async (t) => {
  const { issuer, app, call } = await setup(t)
  await app.register(
    async (scope) => {
      requireAuthentication(scope)
      scope.get('/one', async (request) => ({ id: currentUser(request).id }))
      scope.get('/two', async () => ({ ok: true }))
    },
    { prefix: '/signed-in' },
  )
  await app.register(
    async (scope) => {
      requireAuthentication(scope, requireRole('admin'))
      scope.get('/three', async () => ({ ok: true }))
    },
    { prefix: '/admins' },
  )
  app.get('/open', async () => ({ ok: true }))
  for (const url of ['/signed-in/one', '/signed-in/two', '/admins/three']) {
    t.equal((await call(url)).statusCode, 401, `${url} without a token`)
  }
  t.same((await call('/signed-in/one', await issuer.mint(alice))).json(), { id: 'u-alice' })
  t.equal((await call('/admins/three', await issuer.mint(alice))).statusCode, 403)
  t.equal((await call('/admins/three', await issuer.mint(root))).statusCode, 200)
  t.equal((await call('/open')).statusCode, 200, 'outside the scopes no token is needed')
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  t.same(doc.paths['/signed-in/two'].get.security, bearerSecurity, 'the document says so')
  t.same(doc.paths['/admins/three'].get.security, bearerSecurity)
  t.notOk(doc.paths['/open'].get.security)
})

t.test('optional authentication: anonymous passes, a bad token does not', async (t) => {
  const { issuer, call } = await setup(t)
  t.same((await call('/maybe')).json(), { user: null })
  t.same((await call('/maybe', await issuer.mint(root))).json(), {
    user: { id: 'u-root', role: 'admin', username: 'root' },
  })
  t.equal((await call('/maybe', 'garbage')).statusCode, 401)
})

t.test('unreachable keys are 503, not a 401 that would log clients out', async (t) => {
  const issuer = await createTestIssuer()
  const verify = createAccessTokenVerifier({
    issuer: issuer.issuer,
    keys: { jwksUrl: 'http://127.0.0.1:1/auth/.well-known/jwks.json', timeoutMs: 500 },
  })
  const app = await buildFastify({
    service: 'test',
    logLevel: 'silent',
  })
  await app.register(accessTokens, { verify })
  app.get('/me', { onRequest: authenticate }, async (request) => currentUser(request))
  t.teardown(() => app.close())
  const res = await app.inject({
    method: 'GET',
    url: '/me',
    headers: { authorization: `Bearer ${await issuer.mint(alice)}` },
  })
  t.equal(res.statusCode, 503)
})

t.test('the verifier checks expiry against an injected clock', async (t) => {
  const issuer = await createTestIssuer()
  let now = new Date()
  const verify = createAccessTokenVerifier({
    issuer: issuer.issuer,
    keys: { jwks: issuer.jwks },
    now: () => now,
  })
  const token = await issuer.mint(alice)
  t.same(await verify(token), { id: 'u-alice', role: 'student', username: 'alice' })
  now = new Date(Date.now() + 16 * 60 * 1000)
  await t.rejects(verify(token), { name: 'InvalidTokenError' })
})
