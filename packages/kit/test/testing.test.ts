// startTestService: the fixture started as runService starts it, with its bus really started.
import t from 'tap'
import { startTestService } from '../src/testing.ts'
import { fixture } from './fixtures/service.ts'

t.test('a test service is ready with its bus connected, and its jobs run on demand', async (t) => {
  const service = await startTestService(t, fixture, { config: { greeting: 'hi' } })
  const ready = await service.app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok', bus: 'connected' } })
  t.same((await service.app.inject({ method: 'GET', url: '/greeting' })).json(), {
    greeting: 'hi',
  })
  t.equal(await service.job('tick').run(), 'ticked')
  t.throws(() => service.job('nope'), /no job "nope"/)
  t.equal(service.config.nodeEnv, 'test')
  t.match(service.config.busPrefix, /^t_\d+_[0-9a-f]{8}\.$/)
})

t.test('a rule across variables stops a test service too', async (t) => {
  await t.rejects(
    startTestService(t, fixture, { config: { greeting: 'goodbye' } }),
    /GREETING cannot be goodbye/,
  )
})
