import t from 'tap'
import { addUser, balances, ledgerProblems, walletService } from './helpers.ts'

const admin = { id: 'admin1', role: 'admin' as const }
const alice = { id: 'alice1', role: 'student' as const }
const bob = { id: 'bob1', role: 'student' as const }

t.test('/user/me and lookups: 404 before the profile, self or admin after', async (t) => {
  const { app, db, token } = await walletService(t)
  const aliceToken = await token(alice)
  const get = (url: string, auth = aliceToken) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${auth}` } })

  t.equal((await app.inject({ method: 'GET', url: '/user/me' })).statusCode, 401)
  const before = await get('/user/me')
  t.equal(before.statusCode, 404)
  t.equal(before.headers['content-type'], 'application/problem+json; charset=utf-8')

  await addUser(db, alice.id)
  await addUser(db, bob.id)
  const me = await get('/user/me')
  t.equal(me.statusCode, 200)
  t.same(Object.keys(me.json()).sort(), [
    'available_balance',
    'balance',
    'created_at',
    'currency',
    'email',
    'id',
    'name',
    'phone',
    'role',
    'username',
  ])
  t.match(me.json(), { id: alice.id, balance: 0, available_balance: 0, currency: 'usd' })

  t.equal((await get(`/user/by-id/${alice.id}`)).statusCode, 200)
  t.equal((await get(`/user/by-email/${alice.id}@example.com`)).statusCode, 200)
  t.equal((await get(`/user/by-username/user_${alice.id}`)).statusCode, 200)
  // Another user's profile is 404, the same as a missing one.
  t.equal((await get(`/user/by-id/${bob.id}`)).statusCode, 404)
  t.equal((await get(`/user/by-email/${bob.id}@example.com`)).statusCode, 404)
  t.equal((await get(`/user/by-username/user_${bob.id}`)).statusCode, 404)
  t.equal((await get(`/user/${bob.id}/transactions`)).statusCode, 404)
  const adminToken = await token(admin)
  t.equal((await get(`/user/by-id/${bob.id}`, adminToken)).statusCode, 200)
  t.equal((await get(`/user/by-username/user_${bob.id}`, adminToken)).statusCode, 200)
  t.equal((await get('/user/by-id/nobody', adminToken)).statusCode, 404)
})

t.test('PATCH update: name and phone only, self or admin', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, alice.id)
  await addUser(db, bob.id)
  const aliceToken = await token(alice)
  const patch = (id: string, payload: unknown, auth = aliceToken) =>
    app.inject({
      method: 'PATCH',
      url: `/user/${id}/update`,
      headers: { authorization: `Bearer ${auth}` },
      payload: payload as object,
    })

  const ok = await patch(alice.id, { name: 'Alice', phone: '+1 555 0100' })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { name: 'Alice', phone: '+1 555 0100' })
  for (const sneaky of [
    { role: 'admin' },
    { balance: 1000 },
    { email: 'x@example.com' },
    { name: 'A', role: 'admin' },
  ]) {
    const res = await patch(alice.id, sneaky)
    t.equal(res.statusCode, 400, `refuses ${Object.keys(sneaky).join(',')}`)
    t.ok(res.json().errors?.length, 'names the field')
  }
  const profile = await db
    .selectFrom('profile')
    .selectAll()
    .where('user_id', '=', alice.id)
    .executeTakeFirstOrThrow()
  t.equal(profile.role, 'student')
  t.same(await balances(db, alice.id), { available: 0, held: 0 })

  t.equal((await patch(bob.id, { name: 'Not Bob' })).statusCode, 404, 'another user: 404')
  t.equal((await patch(bob.id, { name: 'Bob' }, await token(admin))).statusCode, 200, 'admin may')
  t.equal((await patch('nobody', { name: 'x' }, await token(admin))).statusCode, 404)
})

t.test('POST /user/create: admin only; 201, same again 200, conflicting 409', async (t) => {
  const { app, db, token } = await walletService(t)
  const body = { user_id: 'carol1', username: 'carol', email: 'Carol@Example.com', name: 'Carol' }
  const create = async (payload: object, who: { id: string; role: 'admin' | 'student' } = admin) =>
    app.inject({
      method: 'POST',
      url: '/user/create',
      headers: { authorization: `Bearer ${await token(who)}` },
      payload,
    })
  t.equal((await create(body, alice)).statusCode, 403)
  const first = await create(body)
  t.equal(first.statusCode, 201)
  t.match(first.json(), { id: 'carol1', email: 'carol@example.com', role: 'student', balance: 0 })
  t.equal((await create(body)).statusCode, 200)
  t.equal((await create({ ...body, name: 'Other' })).statusCode, 409)
  t.equal((await create({ ...body, user_id: 'carol2' })).statusCode, 409, 'username taken')
  t.equal((await create({ ...body, user_id: '   ' })).statusCode, 400, 'a blank id is refused')
  t.equal((await create({ ...body, role: 'admin' })).statusCode, 400)
  t.same(await balances(db, 'carol1'), { available: 0, held: 0 })
})

t.test(
  'deposit and debit: admin only, records actor and reason, 409 beyond available',
  async (t) => {
    const { app, db, token } = await walletService(t)
    await addUser(db, alice.id)
    const adminToken = await token(admin)
    const move = async (
      kind: string,
      id: string,
      payload: object,
      auth = adminToken,
      headers = {},
    ) =>
      app.inject({
        method: 'POST',
        url: `/user/${id}/${kind}`,
        headers: { authorization: `Bearer ${auth}`, ...headers },
        payload,
      })
    const aliceToken = await token(alice)
    t.equal((await move('deposit', alice.id, { amount: 100 }, aliceToken)).statusCode, 403)
    t.equal((await move('debit', alice.id, { amount: 1, reason: 'x' }, aliceToken)).statusCode, 403)

    const dep = await move('deposit', alice.id, {
      amount: 500,
      currency: 'usd',
      reference: 'wire-1',
    })
    t.equal(dep.statusCode, 200)
    t.match(dep.json(), { balance: 500, available_balance: 500, transaction_id: String })
    for (const bad of [
      { amount: 0 },
      { amount: -5 },
      { amount: 1.5 },
      { amount: true },
      { amount: '1e2' },
      { amount: [7] },
      { amount: 5, reference: 12 },
      {},
      { amount: 5, extra: 1 },
    ]) {
      t.equal((await move('deposit', alice.id, bad)).statusCode, 400, JSON.stringify(bad))
    }
    t.equal((await move('deposit', alice.id, { amount: 5, currency: 'eur' })).statusCode, 400)
    t.equal((await move('deposit', 'nobody', { amount: 5 })).statusCode, 404)
    t.equal((await move('debit', alice.id, { amount: 5 })).statusCode, 400, 'debit needs a reason')
    t.equal((await move('debit', alice.id, { amount: '5', reason: 'x' })).statusCode, 400)
    t.equal((await move('debit', alice.id, { amount: 5, reason: '   ' })).statusCode, 400)
    const tooMuch = await move('debit', alice.id, { amount: 501, reason: 'fee' })
    t.equal(tooMuch.statusCode, 409)
    const deb = await move('debit', alice.id, { amount: 200, reason: 'chargeback' })
    t.equal(deb.statusCode, 200)
    t.match(deb.json(), { balance: 300, available_balance: 300 })

    const tx = await db
      .selectFrom('ledger_transaction')
      .selectAll()
      .where('id', '=', deb.json().transaction_id)
      .executeTakeFirstOrThrow()
    t.match(tx, { kind: 'debit', actor_id: admin.id, reason: 'chargeback' })

    const history = await app.inject({
      method: 'GET',
      url: `/user/${alice.id}/transactions?limit=1`,
      headers: { authorization: `Bearer ${aliceToken}` },
    })
    t.equal(history.statusCode, 200)
    t.match(history.json(), { items: [{ kind: 'debit', amount: -200, account: 'available' }] })
    const next = await app.inject({
      method: 'GET',
      url: `/user/${alice.id}/transactions?limit=1&cursor=${history.json().next_cursor}`,
      headers: { authorization: `Bearer ${aliceToken}` },
    })
    t.match(next.json(), {
      items: [{ kind: 'deposit', amount: 500, reference: 'wire-1' }],
      next_cursor: null,
    })
    for (const q of ['limit=0', 'limit=101', 'cursor=bad', 'other=1']) {
      const res = await app.inject({
        method: 'GET',
        url: `/user/${alice.id}/transactions?${q}`,
        headers: { authorization: `Bearer ${aliceToken}` },
      })
      t.equal(res.statusCode, 400, q)
    }
    t.same(await ledgerProblems(db), [])
  },
)

t.test('100 concurrent debits of 1 against 50: 50 succeed, 50 are 409', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, alice.id)
  const adminToken = await token(admin)
  const headers = { authorization: `Bearer ${adminToken}` }
  await app.inject({
    method: 'POST',
    url: `/user/${alice.id}/deposit`,
    headers,
    payload: { amount: 50 },
  })
  const results = await Promise.all(
    Array.from({ length: 100 }, () =>
      app.inject({
        method: 'POST',
        url: `/user/${alice.id}/debit`,
        headers,
        payload: { amount: 1, reason: 'race' },
      }),
    ),
  )
  const codes = results.map((r) => r.statusCode)
  t.equal(codes.filter((c) => c === 200).length, 50)
  t.equal(codes.filter((c) => c === 409).length, 50)
  t.same(await balances(db, alice.id), { available: 0, held: 0 })
  t.same(await ledgerProblems(db), [])
})

t.test(
  'Idempotency-Key: replays, refuses another body, one effect under concurrency',
  async (t) => {
    const { app, db, token } = await walletService(t)
    await addUser(db, alice.id)
    const headers = { authorization: `Bearer ${await token(admin)}` }
    const deposit = (key: string, payload: object) =>
      app.inject({
        method: 'POST',
        url: `/user/${alice.id}/deposit`,
        headers: { ...headers, 'idempotency-key': key },
        payload,
      })

    const first = await deposit('k1', { amount: 100, reference: 'a' })
    const again = await deposit('k1', { reference: 'a', amount: 100 })
    t.equal(again.statusCode, 200)
    t.same(again.json(), first.json(), 'the first answer, replayed')
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal((await deposit('k1', { amount: 101 })).statusCode, 409)
    // The same resource spelled with a percent-encoded character is the same key scope.
    const encoded = `%${alice.id.charCodeAt(0).toString(16)}${alice.id.slice(1)}`
    const spelled = await app.inject({
      method: 'POST',
      url: `/user/${encoded}/deposit`,
      headers: { ...headers, 'idempotency-key': 'k1' },
      payload: { amount: 100, reference: 'a' },
    })
    t.equal(spelled.headers['idempotent-replayed'], 'true', 'an encoded path replays')
    t.same(await balances(db, alice.id), { available: 100, held: 0 })

    const racing = await Promise.all(Array.from({ length: 20 }, () => deposit('k2', { amount: 7 })))
    const ok = racing.filter((r) => r.statusCode === 200)
    t.ok(ok.length >= 1, 'at least the first succeeds')
    t.ok(
      racing.every((r) => r.statusCode === 200 || r.statusCode === 409),
      'the rest replay or see 409',
    )
    t.equal(new Set(ok.map((r) => r.json().transaction_id)).size, 1, 'one transaction')
    t.same(await balances(db, alice.id), { available: 107, held: 0 })
    t.equal((await deposit('', { amount: 1 })).statusCode, 200, 'an empty key counts as none')
    t.same(await ledgerProblems(db), [])
  },
)

t.test('a deposit that would overflow a balance is a 409 problem, not a 500', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, alice.id)
  // Near the largest balance the ledger keeps exactly (2^53 - 1), set directly: reaching it
  // through the API would take thousands of maximum deposits.
  await db
    .updateTable('account')
    .set({ balance: Number.MAX_SAFE_INTEGER - 10 })
    .where('user_id', '=', alice.id)
    .where('kind', '=', 'available')
    .execute()
  const res = await app.inject({
    method: 'POST',
    url: `/user/${alice.id}/deposit`,
    headers: { authorization: `Bearer ${await token(admin)}` },
    payload: { amount: 100 },
  })
  t.equal(res.statusCode, 409)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
})

t.test('a deposit may say why (beyond the SPEC); it is recorded with the actor', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, alice.id)
  const res = await app.inject({
    method: 'POST',
    url: `/user/${alice.id}/deposit`,
    headers: { authorization: `Bearer ${await token(admin)}` },
    payload: { amount: 1, reason: 'goodwill credit' },
  })
  t.equal(res.statusCode, 200)
  const tx = await db
    .selectFrom('ledger_transaction')
    .selectAll()
    .where('id', '=', res.json().transaction_id)
    .executeTakeFirstOrThrow()
  t.match(tx, { kind: 'deposit', actor_id: admin.id, reason: 'goodwill credit' })
})

t.test(
  'every route refuses a missing token (401) and a role that may never call it (403)',
  async (t) => {
    const { app, db, token } = await walletService(t)
    await addUser(db, alice.id)
    const routes: [string, string, object?][] = [
      ['GET', '/user/me'],
      ['GET', `/user/by-id/${alice.id}`],
      ['GET', `/user/by-email/${alice.id}@example.com`],
      ['GET', `/user/by-username/user_${alice.id}`],
      ['PATCH', `/user/${alice.id}/update`, { name: 'A' }],
      ['GET', `/user/${alice.id}/transactions`],
      ['POST', '/user/create', { user_id: 'x1', username: 'xxx', email: 'x@example.com' }],
      ['POST', `/user/${alice.id}/deposit`, { amount: 1 }],
      ['POST', `/user/${alice.id}/debit`, { amount: 1, reason: 'r' }],
    ]
    for (const [method, url, payload] of routes) {
      const res = await app.inject({ method: method as 'GET', url, payload })
      t.equal(res.statusCode, 401, `${method} ${url} without a token`)
    }
    const tutor = await token({ id: 'tutor1', role: 'tutor' })
    for (const [method, url, payload] of routes.slice(-3)) {
      const res = await app.inject({
        method: method as 'POST',
        url,
        payload,
        headers: { authorization: `Bearer ${tutor}` },
      })
      t.equal(res.statusCode, 403, `${method} ${url} as a tutor`)
    }
    t.same(await balances(db, alice.id), { available: 0, held: 0 })
  },
)
