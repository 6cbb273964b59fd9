import { captureLogs } from '@tms/testing'
import t from 'tap'
import {
  createLogger,
  currentCorrelationId,
  requestIdOptions,
  withCorrelation,
} from '../src/index.ts'

t.test('every line inside withCorrelation carries the correlation id', async (t) => {
  const { lines, destination } = captureLogs()
  const log = createLogger({ service: 'test', destination })
  log.info('outside')
  await withCorrelation('corr-1', async () => {
    await new Promise((r) => setTimeout(r, 1))
    log.child({ consumer: 'x' }).info('inside, after an await')
    t.equal(currentCorrelationId(), 'corr-1')
  })
  t.equal(lines[0]?.correlation_id, undefined)
  t.equal(lines[1]?.correlation_id, 'corr-1')
  t.equal(lines[1]?.service, 'test')
  t.equal(currentCorrelationId(), undefined)
})

t.test('secrets are redacted', async (t) => {
  const { lines, destination } = captureLogs()
  const log = createLogger({ service: 'test', destination })
  log.info({ body: { password: 'hunter22', otp: '123456', email: 'a@b.c' } }, 'body')
  const body = lines[0]?.body as Record<string, string>
  t.equal(body.password, '[redacted]')
  t.equal(body.otp, '[redacted]')
  t.equal(body.email, 'a@b.c')
})

t.test('the request id comes from x-request-id when sane, else is made', async (t) => {
  const gen = (h: Record<string, string>) => requestIdOptions.genReqId({ headers: h } as never)
  t.equal(gen({ 'x-request-id': 'abc-123' }), 'abc-123')
  t.match(gen({}), /^[0-9a-f-]{36}$/)
  t.match(gen({ 'x-request-id': 'bad id\nwith newline' }), /^[0-9a-f-]{36}$/)
})
