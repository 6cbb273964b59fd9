// Who counts as an admin in the wallet, and what a wallet's owner sees of the admins.
import { eventually } from '@tms/testing'
import t from 'tap'
import { addUser, walletService } from './helpers.ts'

const admin = { id: 'admin1', role: 'admin' as const }
const alice = { id: 'alice1', role: 'student' as const }

t.test('a demoted admin is refused as soon as the role-changed event arrives', async (t) => {
  const service = await walletService(t)
  const { publish } = service
  await addUser(service.db, alice.id)
  const adminToken = await service.token(admin)
  const deposit = () =>
    service.app.inject({
      method: 'POST',
      url: `/user/${alice.id}/deposit`,
      headers: { authorization: `Bearer ${adminToken}` },
      payload: { amount: 100 },
    })
  const read = () =>
    service.app.inject({
      method: 'GET',
      url: `/user/by-id/${alice.id}`,
      headers: { authorization: `Bearer ${adminToken}` },
    })
  t.equal((await deposit()).statusCode, 200)
  t.equal((await read()).statusCode, 200)
  await publish('auth.user.role-changed', { user_id: admin.id, role: 'student', changed_by: 'x' })
  await eventually(
    async () => {
      const profile = await service.db
        .selectFrom('profile')
        .select('role')
        .where('user_id', '=', admin.id)
        .executeTakeFirst()
      return profile?.role === 'student'
    },
    { what: 'the role-changed event handled' },
  )
  // The token still says admin, and will for minutes; the wallet goes by the event.
  const refused = await deposit()
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { status: 403, detail: 'this action is for admin accounts' })
  t.equal((await read()).statusCode, 404, "another user's profile is hidden again")
  const wallet = await service.app.inject({
    method: 'GET',
    url: '/user/me',
    headers: { authorization: `Bearer ${await service.token(alice)}` },
  })
  t.equal(wallet.json().balance, 100, 'one deposit, before the demotion')
})

t.test('an admin token without an admin profile here is no admin', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, alice.id)
  const stranger = await token({ id: 'admin9', role: 'admin' }, { withProfile: false })
  const asStranger = (method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({ method, url, payload, headers: { authorization: `Bearer ${stranger}` } })
  t.equal((await asStranger('POST', `/user/${alice.id}/deposit`, { amount: 1 })).statusCode, 403)
  t.equal((await asStranger('GET', `/user/${alice.id}/transactions`)).statusCode, 404)
  await addUser(db, 'tutor1', 'tutor')
  const tutorWithAdminToken = await token({ id: 'tutor1', role: 'admin' })
  const res = await app.inject({
    method: 'POST',
    url: `/user/${alice.id}/deposit`,
    headers: { authorization: `Bearer ${tutorWithAdminToken}` },
    payload: { amount: 1 },
  })
  t.equal(res.statusCode, 403, 'a profile that says tutor outweighs the token')
  const promoted = await token({ id: 'tutor1', role: 'tutor' })
  await db.updateTable('profile').set({ role: 'admin' }).where('user_id', '=', 'tutor1').execute()
  const early = await app.inject({
    method: 'POST',
    url: `/user/${alice.id}/deposit`,
    headers: { authorization: `Bearer ${promoted}` },
    payload: { amount: 1 },
  })
  t.equal(early.statusCode, 403, 'and a token that says tutor outweighs the profile')
})

t.test('a wallet’s owner does not see which admin moved money; admins do', async (t) => {
  const { app, db, token } = await walletService(t)
  await addUser(db, alice.id)
  const adminToken = await token(admin)
  await app.inject({
    method: 'POST',
    url: `/user/${alice.id}/deposit`,
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { amount: 500, reason: 'welcome credit' },
  })
  const ledger = async (bearer: string) =>
    (
      await app.inject({
        method: 'GET',
        url: `/user/${alice.id}/transactions`,
        headers: { authorization: `Bearer ${bearer}` },
      })
    ).json().items
  const own = await ledger(await token(alice))
  t.equal(own.length, 1)
  t.notOk('actor_id' in own[0], 'no actor_id for the owner')
  t.match(own[0], { kind: 'deposit', amount: 500, reason: 'welcome credit' })
  const asAdmin = await ledger(adminToken)
  t.equal(asAdmin[0].actor_id, admin.id, 'the admin sees who it was')
})
