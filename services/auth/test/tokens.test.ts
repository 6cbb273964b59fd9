import { createAccessTokenVerifier } from '@tms/jwt'
import { createImpostorIssuer, createTestIssuer } from '@tms/testing'
import { base64url, SignJWT } from 'jose'
import t from 'tap'
import { bearer, login, setup, signup, testConfig } from './helpers.ts'

t.test('refresh rotates: a new pair, and the old refresh token is spent', async (t) => {
  const { app } = await setup(t)
  const user = await signup(app)
  const first = await login(app, user.username, user.password)
  const refresh = (token: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })
  const second = await refresh(first.refresh_token)
  t.equal(second.statusCode, 200)
  t.not(second.json().refresh_token, first.refresh_token)
  t.ok(second.json().access_token)
  const third = await refresh(second.json().refresh_token)
  t.equal(third.statusCode, 200)
  t.equal((await refresh('never-issued')).statusCode, 401)
})

t.test('reuse of a spent refresh token revokes its whole family', async (t) => {
  const { app, db } = await setup(t)
  const user = await signup(app)
  const stolen = await login(app, user.username, user.password)
  const otherDevice = await login(app, user.username, user.password)
  const refresh = (token: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })

  const rotated = (await refresh(stolen.refresh_token)).json()
  const replay = await refresh(stolen.refresh_token)
  t.equal(replay.statusCode, 401)
  t.match(replay.json(), { status: 401, detail: 'the refresh token is not valid' })
  t.equal(
    (await refresh(rotated.refresh_token)).statusCode,
    401,
    'the newest of the family is dead',
  )
  // Another login (another family) is untouched.
  t.equal((await refresh(otherDevice.refresh_token)).statusCode, 200)
  const live = await db
    .selectFrom('refresh_tokens')
    .select('family_id')
    .where('revoked_at', 'is', null)
    .where('spent_at', 'is', null)
    .execute()
  t.equal(live.length, 1)
})

t.test('an expired refresh token is refused', async (t) => {
  const { app, clock } = await setup(t, { refreshTokenTtlDays: 1 })
  const user = await signup(app)
  const tokens = await login(app, user.username, user.password)
  clock.advance(24 * 60 * 60 * 1000 + 1)
  const res = await app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refresh_token: tokens.refresh_token },
  })
  t.equal(res.statusCode, 401)
})

t.test('the refreshed access token follows a changed role', async (t) => {
  const { app, db } = await setup(t)
  const user = await signup(app)
  const tokens = await login(app, user.username, user.password)
  await db.updateTable('users').set({ role: 'tutor' }).where('id', '=', user.id).execute()
  const res = await app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refresh_token: tokens.refresh_token },
  })
  const claims = JSON.parse(
    new TextDecoder().decode(base64url.decode(res.json().access_token.split('.')[1])),
  )
  t.equal(claims.role, 'tutor')
})

t.test('logout revokes the refresh token; logging out twice is fine', async (t) => {
  const { app } = await setup(t)
  const user = await signup(app)
  const tokens = await login(app, user.username, user.password)
  const logout = () =>
    app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refresh_token: tokens.refresh_token },
    })
  const res = await logout()
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal((await logout()).statusCode, 204)
  const refresh = await app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refresh_token: tokens.refresh_token },
  })
  t.equal(refresh.statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/auth/logout', payload: {} })).statusCode, 400)
})

t.test('the JWKS verifies issued tokens with the shared verifier', async (t) => {
  const { app, keys } = await setup(t)
  const user = await signup(app, { role: 'tutor' })
  const tokens = await login(app, user.username, user.password)
  const res = await app.inject({ method: 'GET', url: '/auth/.well-known/jwks.json' })
  t.equal(res.statusCode, 200)
  const jwks = res.json()
  t.same(
    jwks.keys.map((k: { kid: string }) => k.kid),
    [keys.kid],
  )
  t.same(Object.keys(jwks.keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'])
  t.notOk(jwks.keys[0].d, 'no private part')
  const verify = createAccessTokenVerifier({ issuer: testConfig.jwtIssuer, keys: { jwks } })
  t.same(await verify(tokens.access_token), {
    id: user.id,
    role: 'tutor',
    username: user.username,
  })
  await t.rejects(verify(tokens.refresh_token), { name: 'InvalidTokenError' })
})

t.test('protected routes refuse bad access tokens', async (t) => {
  const { app, clock, keys } = await setup(t)
  const user = await signup(app)
  const tokens = await login(app, user.username, user.password)
  const changePassword = (authorization?: string) =>
    app.inject({
      method: 'PATCH',
      url: '/auth/password',
      headers: authorization ? { authorization } : {},
      payload: { current_password: user.password, new_password: 'another good password' },
    })

  // Tokens signed by another key but otherwise right, or by ours but wrong in one claim.
  const foreign = await createTestIssuer({ issuer: testConfig.jwtIssuer, kid: keys.kid })
  const impostor = await createImpostorIssuer(foreign)
  const claims = { sub: user.id, role: 'student' as const, username: user.username }
  const sign = (payload: Record<string, unknown>, header: Record<string, string> = {}) =>
    new SignJWT({ role: 'student', username: user.username, ...payload })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys.kid, ...header })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(keys.privateKey)
  const [h, p, s] = tokens.access_token.split('.') as [string, string, string]
  const tamperedPayload = base64url.encode(
    JSON.stringify({ ...JSON.parse(new TextDecoder().decode(base64url.decode(p))), role: 'admin' }),
  )
  const cases: Record<string, string> = {
    missing: '',
    tampered: `Bearer ${h}.${tamperedPayload}.${s}`,
    'alg none': `Bearer ${foreign.mintUnsigned(claims)}`,
    'wrong key': `Bearer ${await impostor.mint(claims)}`,
    'wrong audience': `Bearer ${await sign({ iss: testConfig.jwtIssuer, aud: 'other-api' })}`,
    'wrong issuer': `Bearer ${await sign({ iss: 'someone-else', aud: 'tms-api' })}`,
    'wrong typ': `Bearer ${await sign({ iss: testConfig.jwtIssuer, aud: 'tms-api' }, { typ: 'JWT' })}`,
    'a refresh token': `Bearer ${tokens.refresh_token}`,
  }
  for (const [name, authorization] of Object.entries(cases)) {
    const res = await changePassword(authorization || undefined)
    t.equal(res.statusCode, 401, name)
    t.match(res.headers['www-authenticate'], /^Bearer/, name)
  }
  const right = await sign({ iss: testConfig.jwtIssuer, aud: 'tms-api' })
  t.equal((await changePassword(`Bearer ${right}`)).statusCode, 204, 'the control case passes')

  // Expired: the service's clock passes the token's exp.
  const fresh = await login(app, user.username, 'another good password')
  clock.advance(16 * 60 * 1000)
  const expired = await app.inject({
    method: 'PATCH',
    url: '/auth/email',
    headers: bearer(fresh.access_token),
    payload: { current_password: 'another good password', new_email: 'new@example.com' },
  })
  t.equal(expired.statusCode, 401)
})
