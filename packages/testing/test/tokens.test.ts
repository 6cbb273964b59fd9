import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
} from 'jose'
import t from 'tap'
import { createImpostorIssuer, createTestIssuer } from '../src/index.ts'

const alice = { sub: 'user-1', role: 'tutor', username: 'alice' } as const

t.test('a minted token verifies against the served JWKS', async (t) => {
  const issuer = await createTestIssuer()
  t.equal(issuer.issuer, 'tms-test')
  t.equal(issuer.audience, 'tms-api')
  t.equal(issuer.jwks.keys.length, 1, 'one key')
  const [jwk] = issuer.jwks.keys
  t.match(jwk, { kid: issuer.kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256' })
  t.notOk(jwk && 'd' in jwk, 'the JWKS holds no private part')

  const url = await issuer.serveJwks(t)
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/auth\/\.well-known\/jwks\.json$/)
  const served = await fetch(url)
  t.equal(served.status, 200)
  t.same(await served.json(), issuer.jwks)
  t.equal((await fetch(new URL('/other', url))).status, 404)

  const token = await issuer.mint(alice)
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(url)), {
    algorithms: ['ES256'],
    issuer: 'tms-test',
    audience: 'tms-api',
    typ: 'at+jwt',
  })
  t.same(
    { typ: protectedHeader.typ, kid: protectedHeader.kid, alg: protectedHeader.alg },
    { typ: 'at+jwt', kid: issuer.kid, alg: 'ES256' },
  )
  t.match(payload, { iss: 'tms-test', aud: 'tms-api', sub: 'user-1', role: 'tutor' })
  t.equal(payload.username, 'alice')
  const now = Math.floor(Date.now() / 1000)
  t.ok(Math.abs(Number(payload.exp) - (now + 900)) <= 2, `exp ${payload.exp} ≈ now + 900`)
})

t.test('mint options change what they say and nothing else', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://auth.example', audience: 'other' })
  const jwks = createLocalJWKSet(issuer.jwks)
  const token = await issuer.mint(
    { ...alice, role: 'admin' },
    { expiresIn: 60, typ: 'JWT', audience: 'x', issuer: 'y', notBefore: -5 },
  )
  const { payload, protectedHeader } = await jwtVerify(token, jwks)
  t.equal(protectedHeader.typ, 'JWT')
  t.match(payload, { iss: 'y', aud: 'x', role: 'admin' })
  t.equal(Number(payload.exp) - Number(payload.iat), 60)
  t.equal(Number(payload.nbf) - Number(payload.iat), -5)
  t.equal(decodeJwt(await issuer.mint(alice)).iss, 'https://auth.example')

  const future = await issuer.mint(alice, { notBefore: 300 })
  await t.rejects(jwtVerify(future, jwks), errors.JWTClaimValidationFailed, 'not yet valid')
  const otherKid = await issuer.mint(alice, { kid: 'nope' })
  await t.rejects(jwtVerify(otherKid, jwks), errors.JWKSNoMatchingKey, 'unknown kid')
})

t.test('an expired token fails verification', async (t) => {
  const issuer = await createTestIssuer()
  const jwks = createRemoteJWKSet(new URL(await issuer.serveJwks(t)))
  const token = await issuer.mint(alice, { expiresIn: -60 })
  t.ok(Number(decodeJwt(token).exp) < Date.now() / 1000)
  await t.rejects(jwtVerify(token, jwks, { algorithms: ['ES256'] }), errors.JWTExpired)
})

t.test('the alg none token carries the claims and no signature', async (t) => {
  const issuer = await createTestIssuer()
  const token = issuer.mintUnsigned(alice)
  const parts = token.split('.')
  t.equal(parts.length, 3)
  t.equal(parts[2], '', 'empty signature')
  t.same(decodeProtectedHeader(token), { alg: 'none', typ: 'at+jwt' })
  t.match(decodeJwt(token), { sub: 'user-1', role: 'tutor', username: 'alice', iss: 'tms-test' })
  await t.rejects(jwtVerify(token, createLocalJWKSet(issuer.jwks)))
})

t.test('an impostor issuer looks the same but its tokens do not verify', async (t) => {
  const issuer = await createTestIssuer()
  const impostor = await createImpostorIssuer(issuer)
  t.match(impostor, { issuer: issuer.issuer, audience: issuer.audience, kid: issuer.kid })
  t.not(impostor.jwks.keys[0]?.x, issuer.jwks.keys[0]?.x, 'another key')
  const jwks = createRemoteJWKSet(new URL(await issuer.serveJwks(t)))
  await jwtVerify(await issuer.mint(alice), jwks)
  await t.rejects(
    jwtVerify(await impostor.mint(alice), jwks),
    errors.JWSSignatureVerificationFailed,
  )
  const stranger = await createTestIssuer()
  t.not(stranger.kid, issuer.kid, 'a fresh issuer has a kid of its own')
})
