// The gateway's settings: lists of replicas, CORS origins, defaults, and one clear line per
// wrong variable.
import { readConfig } from '@tms/config'
import t from 'tap'
import { configSpec } from '../src/config.ts'

t.test('defaults: the services on their local ports, no CORS, no proxy trusted', async (t) => {
  const config = readConfig(configSpec, {})
  t.equal(config.port, 8000)
  t.same(config.authUpstreams, ['http://127.0.0.1:8001'])
  t.same(config.userUpstreams, ['http://127.0.0.1:8002'])
  t.same(config.academicUpstreams, ['http://127.0.0.1:8003'])
  t.same(config.notificationsUpstreams, [], 'not deployed until the service exists')
  t.same(
    readConfig(configSpec, { NOTIFICATIONS_UPSTREAMS: 'http://127.0.0.1:8004' })
      .notificationsUpstreams,
    ['http://127.0.0.1:8004'],
  )
  t.same(readConfig(configSpec, { ACADEMIC_UPSTREAMS: 'none' }).academicUpstreams, [])
  t.same(config.corsOrigins, [])
  t.equal(config.trustProxy, false)
  t.equal(config.metricsHost, '127.0.0.1')
})

t.test('several replicas and origins, comma-separated', async (t) => {
  const config = readConfig(configSpec, {
    AUTH_UPSTREAMS: 'http://127.0.0.1:8001, http://127.0.0.1:8101/',
    CORS_ORIGINS: 'https://app.example,https://admin.example',
    TRUST_PROXY: '10.0.0.0/28',
  })
  t.same(config.authUpstreams, ['http://127.0.0.1:8001', 'http://127.0.0.1:8101'])
  t.same(config.corsOrigins, ['https://app.example', 'https://admin.example'])
  t.equal(config.trustProxy, '10.0.0.0/28')
})

t.test('a wrong variable is named', async (t) => {
  t.throws(() => readConfig(configSpec, { USER_UPSTREAMS: 'http://127.0.0.1:8002/user' }), {
    message: /USER_UPSTREAMS must be comma-separated http:\/\/ or https:\/\/ origins/,
  })
  t.throws(() => readConfig(configSpec, { AUTH_UPSTREAMS: 'ftp://x' }), {
    message: /AUTH_UPSTREAMS/,
  })
  t.throws(() => readConfig(configSpec, { UPSTREAM_TIMEOUT_MS: 'soon' }), {
    message: /UPSTREAM_TIMEOUT_MS must be a whole number/,
  })
})
