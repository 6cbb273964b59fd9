import type { Clock } from '@tms/clock'
import { bearerSecurity, buildFastify } from '@tms/http'
import { createImpostorIssuer, createTestIssuer } from '@tms/testing'
import { base64url, createLocalJWKSet, SignJWT } from 'jose'
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
    clock: { now: () => now },
  })
  const token = await issuer.mint(alice)
  t.same(await verify(token), { id: 'u-alice', role: 'student', username: 'alice' })
  now = new Date(Date.now() + 16 * 60 * 1000)
  await t.rejects(verify(token), { name: 'InvalidTokenError' })
})

/** A verifier over the issuer's keys that counts how often a key is looked up (a full check). */
async function countingVerifier(options: { cacheSize?: number; clock?: Clock } = {}) {
  const issuer = await createTestIssuer()
  const local = createLocalJWKSet(issuer.jwks)
  let fullChecks = 0
  const verify = createAccessTokenVerifier({
    issuer: issuer.issuer,
    keys: {
      getKey: (header, token) => {
        fullChecks++
        return local(header, token)
      },
    },
    ...options,
  })
  return { issuer, verify, fullChecks: () => fullChecks }
}

t.test('a verified token is answered again without a signature check', async (t) => {
  const { issuer, verify, fullChecks } = await countingVerifier()
  const token = await issuer.mint(alice)
  const first = await verify(token)
  t.equal(fullChecks(), 1)
  for (let i = 0; i < 5; i++) t.same(await verify(token), first)
  t.equal(fullChecks(), 1, 'the later uses cost no key lookup')
  t.ok(Object.isFrozen(first), 'the shared user cannot be changed by one request')

  // Another spelling of the cached token is another key, checked in full and refused.
  await t.rejects(verify(`${token}=`), { name: 'InvalidTokenError' })
  const [h, p, s] = token.split('.') as [string, string, string]
  await t.rejects(verify(`${h}.${p}.${s.slice(0, -2)}AA`), { name: 'InvalidTokenError' })
  t.equal(fullChecks(), 2, 'the changed signature went to a full check (padding fails before)')
})

t.test('refusals are never cached', async (t) => {
  const { issuer, verify, fullChecks } = await countingVerifier()
  const wrongAudience = await issuer.mint(alice, { audience: 'someone-else' })
  for (let i = 0; i < 3; i++) await t.rejects(verify(wrongAudience), { name: 'InvalidTokenError' })
  t.equal(fullChecks(), 3)
})

t.test('the cache keeps at most cacheSize tokens, the oldest leaving first', async (t) => {
  const { issuer, verify, fullChecks } = await countingVerifier({ cacheSize: 2 })
  const [a, b, c] = await Promise.all([issuer.mint(alice), issuer.mint(root), issuer.mint(alice)])
  for (const token of [a, b, c] as string[]) await verify(token)
  t.equal(fullChecks(), 3)
  await verify(c as string)
  await verify(b as string)
  t.equal(fullChecks(), 3, 'b and c are cached')
  await verify(a as string)
  t.equal(fullChecks(), 4, 'a left the cache when c came and is checked in full')

  const none = await countingVerifier({ cacheSize: 0 })
  const token = await none.issuer.mint(alice)
  await none.verify(token)
  await none.verify(token)
  t.equal(none.fullChecks(), 2, 'cacheSize 0 keeps nothing')
})

t.test('a cached token is refused exactly when a full check refuses it', async (t) => {
  // A token with nbf, verified (and cached) once it is valid; then the clock walks every second
  // around nbf, exp and the maximum age (and back), and the cached verifier must say what a
  // verifier without a cache says.
  let now = new Date()
  const clock = { now: () => now }
  const cached = await countingVerifier({ clock })
  const uncached = createAccessTokenVerifier({
    issuer: cached.issuer.issuer,
    keys: { jwks: cached.issuer.jwks },
    clock,
    cacheSize: 0,
  })
  const token = await cached.issuer.mint(alice, { notBefore: -2, expiresIn: 60 })
  const minted = Date.now()
  const decide = (v: typeof uncached) =>
    v(token).then(
      () => 'accepted',
      (err: Error) => err.name,
    )
  const at = (offsetSeconds: number) => new Date(minted + offsetSeconds * 1000)
  now = at(0)
  t.equal(await decide(cached.verify), 'accepted')
  const offsets = [
    ...Array.from({ length: 16 }, (_, i) => -14 + i), // before nbf (tolerance 5 s), then valid
    ...Array.from({ length: 16 }, (_, i) => 56 + i), // around exp + tolerance
    ...Array.from({ length: 16 }, (_, i) => 3596 + i), // around iat + max age
    30,
    -30, // the clock set back
  ]
  for (const offset of offsets) {
    now = at(offset)
    // The full check first, so the cached one may hold the token again afterwards.
    const expected = await decide(uncached)
    // Re-verify from a cached state where possible: accepted tokens are cached again.
    now = at(0)
    await decide(cached.verify)
    now = at(offset)
    t.equal(await decide(cached.verify), expected, `at ${offset} s`)
  }
})
