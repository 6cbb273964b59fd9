import { spawnSync } from 'node:child_process'
import t from 'tap'
import { ConfigError, env, readConfig, serviceConfigSpec } from '../src/index.ts'

t.test('reads and converts values, applying defaults', async (t) => {
  const config = readConfig(
    {
      port: env.int('PORT', { min: 1, max: 65535, default: 8001 }),
      delays: env.intList('DELAYS', { min: 1 }),
      debug: env.bool('DEBUG', { default: false }),
      mode: env.oneOf('MODE', ['a', 'b'] as const, { default: 'a' }),
      smtp: env.optional(env.url('SMTP_URL', { protocols: ['smtp:'] })),
    },
    { DELAYS: '10, 20,30', DEBUG: 'true', MODE: 'b' },
  )
  t.same(config, { port: 8001, delays: [10, 20, 30], debug: true, mode: 'b', smtp: undefined })
})

t.test('names the variable and what it should be', async (t) => {
  const spec = { port: env.int('PORT', { min: 1, max: 65535 }) }
  const err = t.throws(() => readConfig(spec, { PORT: '70000' })) as AggregateError
  t.equal(err.errors.length, 1)
  t.ok(err.errors[0] instanceof ConfigError)
  t.equal(err.message, 'PORT must be a whole number from 1 to 65535 (got "70000")')
})

t.test('reports every wrong variable at once', async (t) => {
  const spec = {
    a: env.url('DATABASE_URL', { protocols: ['mysql:'] }),
    b: env.oneOf('LOG_LEVEL', ['info', 'debug']),
  }
  const err = t.throws(() => readConfig(spec, { DATABASE_URL: 'postgres://x', LOG_LEVEL: 'loud' }))
  t.match((err as Error).message, /DATABASE_URL must be a URL starting with mysql:\/\//)
  t.match((err as Error).message, /LOG_LEVEL must be one of info, debug \(got "loud"\)/)
})

t.test('a development default is refused in production', async (t) => {
  const spec = { secret: env.string('OTP_SECRET', { minLength: 32, devDefault: 'x'.repeat(32) }) }
  t.equal(readConfig(spec, {}).secret, 'x'.repeat(32))
  const err = t.throws(() => readConfig(spec, { NODE_ENV: 'production' }))
  t.match((err as Error).message, /OTP_SECRET must be .*required in production \(it is not set\)/)
})

t.test('the shared service settings have local defaults', async (t) => {
  const config = readConfig(serviceConfigSpec({ port: 8001, database: 'auth' }), {})
  t.equal(config.databaseUrl, 'mysql://root@127.0.0.1:3306/auth')
  t.same(config.retryDelaysMs, [1000, 10000, 60000, 600000, 3600000])
  t.equal(config.trustProxy, 'loopback')
  t.equal(config.jwtIssuer, 'tms')
  t.equal(config.httpRequestTimeoutMs, 30_000)
  t.equal(config.httpHeadersTimeoutMs, 10_000)
  t.equal(config.metricsHost, '127.0.0.1')
  t.equal(config.metricsPort, 18001, 'the service port plus 10000')
})

t.test('production names its proxies: TRUST_PROXY has no default there', async (t) => {
  const spec = serviceConfigSpec({ port: 8001, database: 'auth' })
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: 'mysql://auth@db:3306/auth',
    AMQP_URL: 'amqp://auth@mq:5672',
  }
  t.throws(() => readConfig(spec, production), /TRUST_PROXY must be .*required in production/)
  t.equal(readConfig(spec, { ...production, TRUST_PROXY: '10.0.0.5' }).trustProxy, '10.0.0.5')
})

t.test('TRUST_PROXY is a boolean or a list of addresses', async (t) => {
  const spec = { trustProxy: env.trustProxy('TRUST_PROXY') }
  t.equal(readConfig(spec, { TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(readConfig(spec, { TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(
    readConfig(spec, { TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy,
    '10.0.0.0/8,127.0.0.1',
  )
  t.throws(() => readConfig(spec, {}), /TRUST_PROXY must be true, false, or comma-separated/)
})

t.test('loadConfig stops the process with one line per bad variable', async (t) => {
  const script = `
    import { env, loadConfig } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)}
    loadConfig({ port: env.int('PORT', { min: 1, max: 10 }) })
    console.log('started')`
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, PORT: 'abc' },
    encoding: 'utf8',
  })
  t.equal(run.status, 78)
  t.equal(run.stdout, '')
  t.equal(run.stderr, 'config error: PORT must be a whole number from 1 to 10 (got "abc")\n')
})

t.test('a currency is a lowercase ISO 4217 code the runtime knows', async (t) => {
  const spec = { currency: env.currency('CURRENCY', { default: 'usd' }) }
  t.equal(readConfig(spec, {}).currency, 'usd')
  t.equal(readConfig(spec, { CURRENCY: 'eur' }).currency, 'eur')
  t.throws(() => readConfig(spec, { CURRENCY: 'EUR' }), /CURRENCY must be a lowercase ISO 4217/)
  t.throws(() => readConfig(spec, { CURRENCY: 'zzz' }))
})
