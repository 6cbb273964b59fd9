import t from 'tap'
import { bearer, login, outboxEvents, setup, signup } from './helpers.ts'

t.test('password change: 204, old password dead, every refresh token revoked', async (t) => {
  const { app } = await setup(t)
  const user = await signup(app)
  const sessionA = await login(app, user.username, user.password)
  const sessionB = await login(app, user.username, user.password)
  const res = await app.inject({
    method: 'PATCH',
    url: '/auth/password',
    headers: bearer(sessionA.access_token),
    payload: { current_password: user.password, new_password: 'a brand new password' },
  })
  t.equal(res.statusCode, 204)
  for (const s of [sessionA, sessionB]) {
    const refresh = await app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: s.refresh_token },
    })
    t.equal(refresh.statusCode, 401, 'refresh token revoked')
  }
  await t.rejects(login(app, user.username, user.password))
  t.ok(await login(app, user.username, 'a brand new password'))
})

t.test('password change refusals', async (t) => {
  const { app } = await setup(t)
  const user = await signup(app)
  const tokens = await login(app, user.username, user.password)
  const change = (payload: Record<string, unknown>) =>
    app.inject({
      method: 'PATCH',
      url: '/auth/password',
      headers: bearer(tokens.access_token),
      payload,
    })
  const wrongCurrent = await change({
    current_password: 'not it at all',
    new_password: 'x'.repeat(9),
  })
  t.equal(wrongCurrent.statusCode, 403, 'a wrong current password is 403, not 401')
  t.match(wrongCurrent.json(), { detail: 'the current password is wrong' })
  t.equal(
    (await change({ current_password: user.password, new_password: 'short' })).statusCode,
    400,
  )
  t.equal(
    (await change({ current_password: user.password, new_password: 'long enough', extra: 1 }))
      .statusCode,
    400,
  )
  const noToken = await app.inject({
    method: 'PATCH',
    url: '/auth/password',
    payload: { current_password: user.password, new_password: 'long enough' },
  })
  t.equal(noToken.statusCode, 401)
  // The refresh token still works: nothing changed.
  const refresh = await app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refresh_token: tokens.refresh_token },
  })
  t.equal(refresh.statusCode, 200)
})

t.test(
  'email change: 200, publishes auth.user.email-changed, login by the new email',
  async (t) => {
    const { app, db } = await setup(t)
    const user = await signup(app)
    const other = await signup(app)
    const tokens = await login(app, user.username, user.password)
    const change = (payload: Record<string, unknown>) =>
      app.inject({
        method: 'PATCH',
        url: '/auth/email',
        headers: bearer(tokens.access_token),
        payload,
      })

    t.equal(
      (await change({ current_password: 'wrong password', new_email: 'x@example.com' })).statusCode,
      403,
    )
    t.equal(
      (await change({ current_password: user.password, new_email: other.email.toUpperCase() }))
        .statusCode,
      409,
    )
    t.equal((await change({ current_password: user.password, new_email: 'nope' })).statusCode, 400)

    const res = await change({
      current_password: user.password,
      new_email: 'New.Address@Example.com',
    })
    t.equal(res.statusCode, 200)
    t.same(res.json(), {
      id: user.id,
      username: user.username,
      email: 'new.address@example.com',
      role: 'student',
    })
    const events = await outboxEvents(db)
    t.same(
      events.filter((e) => e.type === 'auth.user.email-changed').map((e) => e.data),
      [{ user_id: user.id, email: 'new.address@example.com' }],
    )
    const notice = await db.selectFrom('mail_outbox').selectAll().executeTakeFirstOrThrow()
    t.equal(notice.recipient, user.email, 'the old address is told')
    t.ok(await login(app, 'new.address@example.com', user.password))
    await t.rejects(login(app, user.email, user.password))
  },
)

t.test('update-role: admin only, publishes auth.user.role-changed', async (t) => {
  const { app, db } = await setup(t)
  const admin = await signup(app)
  await db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.id).execute()
  const adminTokens = await login(app, admin.username, admin.password)
  const student = await signup(app)
  const studentTokens = await login(app, student.username, student.password)
  const update = (token: string | undefined, payload: Record<string, unknown>) =>
    app.inject({
      method: 'PATCH',
      url: '/auth/update-role',
      headers: token ? bearer(token) : {},
      payload,
    })

  t.equal((await update(undefined, { user_id: student.id, role: 'tutor' })).statusCode, 401)
  t.equal(
    (await update(studentTokens.access_token, { user_id: student.id, role: 'admin' })).statusCode,
    403,
    'a student cannot promote themselves',
  )
  const res = await update(adminTokens.access_token, { user_id: student.id, role: 'tutor' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { id: student.id, role: 'tutor' })
  const again = await update(adminTokens.access_token, { user_id: student.id, role: 'tutor' })
  t.equal(again.statusCode, 200, 'the same role again is fine')
  t.equal(
    (await update(adminTokens.access_token, { user_id: 'no-such-user', role: 'tutor' })).statusCode,
    404,
  )
  t.equal(
    (await update(adminTokens.access_token, { user_id: student.id, role: 'root' })).statusCode,
    400,
  )
  t.equal(
    (await update(adminTokens.access_token, { user_id: admin.id, role: 'student' })).statusCode,
    409,
    'an admin cannot demote themselves',
  )
  const events = (await outboxEvents(db)).filter((e) => e.type === 'auth.user.role-changed')
  t.same(
    events.map((e) => e.data),
    [{ user_id: student.id, role: 'tutor', changed_by: admin.id }],
    'one event: the repeat changed nothing',
  )
  const promoted = await login(app, student.username, student.password)
  const claims = JSON.parse(
    Buffer.from(promoted.access_token.split('.')[1] as string, 'base64url').toString(),
  )
  t.equal(claims.role, 'tutor')
  // Now a tutor: still not an admin.
  const tutorTokens = await login(app, student.username, student.password)
  t.equal(
    (await update(tutorTokens.access_token, { user_id: student.id, role: 'admin' })).statusCode,
    403,
    'a tutor cannot change roles either',
  )
})

t.test('token-only routes and bodies: 401 without a token, 400 without a body', async (t) => {
  const { app } = await setup(t)
  const email = await app.inject({
    method: 'PATCH',
    url: '/auth/email',
    payload: { current_password: 'whatever123', new_email: 'x@example.com' },
  })
  t.equal(email.statusCode, 401)
  t.match(String(email.headers['www-authenticate']), /^Bearer/)
  const password = await app.inject({
    method: 'PATCH',
    url: '/auth/password',
    payload: { current_password: 'whatever123', new_password: 'another password' },
  })
  t.equal(password.statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh' })).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload: {} })).statusCode, 400)
  const form = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'username=someone&password=whatever123&is_admin=1',
  })
  t.equal(form.statusCode, 400, 'an unknown form field is refused like a JSON one')
  const verify = await app.inject({
    method: 'GET',
    url: '/auth/verify?email=a@example.com&otp=123456&debug=1',
  })
  t.equal(verify.statusCode, 400, 'an unknown query field is refused')
})

t.test('a demoted admin’s token cannot promote anyone', async (t) => {
  const { app, db } = await setup(t)
  const [first, second, student] = [await signup(app), await signup(app), await signup(app)]
  for (const admin of [first, second]) {
    await db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.id).execute()
  }
  const firstToken = (await login(app, first.username, first.password)).access_token
  const secondToken = (await login(app, second.username, second.password)).access_token
  const update = (token: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'PATCH', url: '/auth/update-role', headers: bearer(token), payload })

  t.equal((await update(secondToken, { user_id: first.id, role: 'student' })).statusCode, 200)
  // The first admin's token still says admin for up to 15 minutes; auth asks its records.
  const promote = await update(firstToken, { user_id: student.id, role: 'admin' })
  t.equal(promote.statusCode, 403)
  t.match(promote.json(), { status: 403, detail: 'this action is for admin accounts' })
  const demote = await update(firstToken, { user_id: second.id, role: 'student' })
  t.equal(demote.statusCode, 403, 'nor demote the admin who demoted them')
  const roles = await db.selectFrom('users').select(['id', 'role']).orderBy('id').execute()
  t.same(Object.fromEntries(roles.map((r) => [r.id, r.role])), {
    [first.id]: 'student',
    [second.id]: 'admin',
    [student.id]: 'student',
  })
  const events = (await outboxEvents(db)).filter((e) => e.type === 'auth.user.role-changed')
  t.equal(events.length, 1, 'only the demotion was published')

  // The other way round: promoted a moment ago, with a token that still says student.
  const studentToken = (await login(app, student.username, student.password)).access_token
  await update(secondToken, { user_id: student.id, role: 'admin' })
  t.equal(
    (await update(studentToken, { user_id: first.id, role: 'tutor' })).statusCode,
    200,
    'the records say admin',
  )
})

t.test('two admins demoting each other at once: one wins, no deadlock answer', async (t) => {
  const { app, db } = await setup(t)
  const [a, b] = [await signup(app), await signup(app)]
  for (const admin of [a, b]) {
    await db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.id).execute()
  }
  const [aToken, bToken] = [
    (await login(app, a.username, a.password)).access_token,
    (await login(app, b.username, b.password)).access_token,
  ]
  const answers = await Promise.all([
    app.inject({
      method: 'PATCH',
      url: '/auth/update-role',
      headers: bearer(aToken),
      payload: { user_id: b.id, role: 'student' },
    }),
    app.inject({
      method: 'PATCH',
      url: '/auth/update-role',
      headers: bearer(bToken),
      payload: { user_id: a.id, role: 'student' },
    }),
  ])
  t.same(answers.map((r) => r.statusCode).sort(), [200, 403])
  const admins = await db.selectFrom('users').select('id').where('role', '=', 'admin').execute()
  t.equal(admins.length, 1, 'one admin is left')
})
