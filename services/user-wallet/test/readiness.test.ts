// Readiness as an orchestrator sees it, with the real bus: ready while the database answers and
// no consumer is stalled; 503 while the booking consumer holds a delivery it cannot finish and
// makes no progress (here: a session's row locked by another session for longer than the
// stall time, which the TestClock passes), ready again once it moves.
import { eventually, holdLock, TestClock } from '@tms/testing'
import { sql } from 'kysely'
import t from 'tap'
import { addUser, walletService } from './helpers.ts'

const times = { start_time: '2030-01-01T09:00:00Z', end_time: '2030-01-01T10:00:00Z' }

t.test('ready with the bus; 503 for a stalled consumer; ready again after', async (t) => {
  const clock = new TestClock()
  const service = await walletService(t, { clock })
  const ready = () => service.app.inject({ method: 'GET', url: '/health/ready' })
  const first = await ready()
  t.equal(first.statusCode, 200)
  t.same(first.json(), { status: 'ok', checks: { database: 'ok', bus: 'connected' } })

  await addUser(service.db, 'stu')
  const session = {
    session_id: 's1',
    student_id: 'stu',
    tutor_id: 'tut',
    price: 0,
    fee: 0,
    currency: 'usd',
    ...times,
  }
  await service.publish('academic.session.requested', { ...session, revision: 1 })
  await service.handled(1)
  // Another session holds the session's row: the next event of it cannot finish.
  const lock = holdLock(
    service.db,
    sql`SELECT status FROM session_hold WHERE session_id = 's1' FOR UPDATE`,
  )
  t.teardown(() => lock.release())
  await lock.locked
  await service.publish('academic.session.rescheduled', {
    session_id: 's1',
    revision: 2,
    price: 0,
    fee: 0,
    ...times,
  })
  const booking = () =>
    service.bus.status().consumers.find((c) => c.consumer === 'user-wallet.booking')
  await eventually(() => (booking()?.unsettled ?? 0) > 0, { what: 'the delivery taken' })
  t.equal((await ready()).statusCode, 200, 'busy is not stalled')
  clock.advance(60_001)
  const stalled = await ready()
  t.equal(stalled.statusCode, 503, 'no progress for 60 s with a delivery unsettled')
  t.same(stalled.json(), { status: 'unavailable', checks: { database: 'ok', bus: 'down' } })

  lock.release()
  await lock.done
  await service.handled(2)
  await eventually(async () => (await ready()).statusCode === 200, { what: 'ready again' })
  t.notOk(booking()?.stalled)
})
