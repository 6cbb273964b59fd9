// The service's copy of the accounts, from auth's events over the real broker: registered twice
// is one user; a role change that overtakes its registration waits for it.
import t from 'tap'
import { findUser } from '../src/db/users.ts'
import { academicService, registerUser } from './helpers.ts'

t.test('users follow auth: registration once, role changes, in any order', async (t) => {
  const service = await academicService(t)
  await service.publish(
    'auth.user.registered',
    {
      user_id: 'u-1',
      username: 'dora',
      email: 'dora@example.com',
      role: 'tutor',
      name: 'Dora',
      phone: null,
    },
    { copies: 2 },
  )
  await service.handled('academic.users', 1)
  t.match(await findUser(service.db, 'u-1'), { username: 'dora', name: 'Dora', role: 'tutor' })

  await service.publish('auth.user.role-changed', {
    user_id: 'u-1',
    role: 'student',
    changed_by: 'adm',
  })
  await service.handled('academic.users', 2)
  t.equal((await findUser(service.db, 'u-1'))?.role, 'student')

  // A role change of a user whose registration comes later waits for it.
  await service.publish('auth.user.role-changed', {
    user_id: 'u-2',
    role: 'admin',
    changed_by: 'a',
  })
  await registerUser(service, { id: 'u-2', role: 'student' })
  await service.handled('academic.users', 4)
  t.equal((await findUser(service.db, 'u-2'))?.role, 'admin', 'applied after the registration')
})

t.test('readiness with the real bus, and the root check', async (t) => {
  const service = await academicService(t)
  const ready = await service.app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok', bus: 'connected' } })
  const root = await service.app.inject({ method: 'GET', url: '/' })
  t.same(root.json(), { status: 'ok', service: 'academic' })
})
