import net from 'node:net'
import { createLogger, currentCorrelationId } from '@tms/logging'
import { captureLogs, stallAfterPartOfABody } from '@tms/testing'
import t from 'tap'
import Type from 'typebox'
import {
  bearerSecurity,
  buildFastify,
  httpError,
  mapErrors,
  problems,
  timeoutOptions,
} from '../src/index.ts'

const silent = createLogger({ service: 'test', level: 'silent' })

async function buildApp(
  t: { teardown(fn: () => unknown): void },
  healthChecks: Record<string, () => Promise<unknown>> = {},
) {
  const app = await buildFastify({
    service: 'test',
    logger: silent,
    bodyLimit: 1024,
    healthChecks,
    openapi: { title: 'Test API' },
  })
  app.post(
    '/things',
    {
      schema: {
        body: Type.Object(
          { name: Type.String({ minLength: 3 }), tags: Type.Optional(Type.Array(Type.String())) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ name: Type.String() }) },
      },
    },
    async (request, reply) => reply.code(201).send({ name: request.body.name }),
  )
  app.get(
    '/things/:id',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        security: bearerSecurity,
      },
    },
    async (request) => {
      if (request.params.id === 9) throw httpError(409, 'thing 9 is taken')
      if (request.params.id === 13) throw new Error('database exploded')
      return { id: request.params.id }
    },
  )
  t.teardown(() => app.close())
  return app
}

t.test('a valid body passes', async (t) => {
  const app = await buildApp(t)
  const res = await app.inject({ method: 'POST', url: '/things', payload: { name: 'abc' } })
  t.equal(res.statusCode, 201)
  t.same(res.json(), { name: 'abc' })
})

t.test('validation failures are 400 problems naming the field', async (t) => {
  const app = await buildApp(t)
  const cases = [
    [{ name: 'abc', role: 'admin' }, 'role', 'is not an accepted field'],
    [{}, 'name', 'is required'],
    [{ name: 'ab' }, 'name', 'must NOT have fewer than 3 characters'],
    [{ name: 'abc', tags: ['x', {}] }, 'tags[1]', 'must be string'],
  ] as const
  for (const [payload, field, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/things', payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'the body is not valid',
      errors: [{ field, message }],
    })
  }
})

t.test('a JSON body keeps its own types; query and path are converted from text', async (t) => {
  const app = await buildApp(t)
  for (const name of [123, true, ['abcd']]) {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name } })
    t.equal(res.statusCode, 400, `name ${JSON.stringify(name)} is not a string`)
  }
  const ok = await app.inject({ method: 'POST', url: '/things', payload: { name: 'abcd' } })
  t.equal(ok.statusCode, 201)
})

t.test('client mistakes in the envelope get their own status, never 500', async (t) => {
  const app = await buildApp(t)
  const badJson = await app.inject({
    method: 'POST',
    url: '/things',
    headers: { 'content-type': 'application/json' },
    payload: '{"name": ',
  })
  t.equal(badJson.statusCode, 400)
  t.match(badJson.headers['content-type'], /problem\+json/)

  const noBody = await app.inject({ method: 'POST', url: '/things' })
  t.equal(noBody.statusCode, 400)

  const wrongType = await app.inject({
    method: 'POST',
    url: '/things',
    headers: { 'content-type': 'text/csv' },
    payload: 'name\nabc',
  })
  t.equal(wrongType.statusCode, 415)
  t.match(wrongType.json(), { status: 415, title: 'Unsupported Media Type' })

  const text = await app.inject({
    method: 'POST',
    url: '/things',
    headers: { 'content-type': 'text/plain' },
    payload: 'abc',
  })
  t.equal(text.statusCode, 415)

  const tooLarge = await app.inject({
    method: 'POST',
    url: '/things',
    payload: { name: 'x'.repeat(2000) },
  })
  t.equal(tooLarge.statusCode, 413)
  t.match(tooLarge.json(), { status: 413 })

  const badParam = await app.inject({ method: 'GET', url: '/things/abc' })
  t.equal(badParam.statusCode, 400)
  t.match(badParam.json(), { errors: [{ field: 'id' }] })

  const polluted = await app.inject({
    method: 'POST',
    url: '/things',
    headers: { 'content-type': 'application/json' },
    payload: '{"name": "abc", "__proto__": {"admin": true}}',
  })
  t.equal(polluted.statusCode, 400)
})

t.test('router errors are problem details too', async (t) => {
  const app = await buildApp(t)
  for (const url of ['/things/%E0%A4%A', `/things/${'1'.repeat(200)}`]) {
    const res = await app.inject({ method: 'GET', url })
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${url.slice(0, 20)}… is a 4xx`)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.json(), { type: 'about:blank', status: res.statusCode, title: String })
  }
})

t.test('unknown routes are 404 problems without the query string', async (t) => {
  const app = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/nowhere?otp=123456' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), {
    type: 'about:blank',
    title: 'Not Found',
    status: 404,
    detail: 'no route for GET /nowhere',
  })
})

t.test('a scope maps its own errors to problems; the rest reach the shared handler', async (t) => {
  class SoldOut extends Error {}
  const app = await buildFastify({ service: 'test', logLevel: 'silent' })
  t.teardown(() => app.close())
  await app.register(async (scope) => {
    mapErrors(scope, (err) => (err instanceof SoldOut ? httpError(409, 'sold out') : err))
    scope.get(
      '/ticket',
      { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }), ...problems(409) } } },
      async () => {
        throw new SoldOut('the last one went')
      },
    )
    scope.get(
      '/count',
      { schema: { querystring: Type.Object({ n: Type.Integer() }) } },
      async () => ({}),
    )
    scope.get('/broken', async () => {
      throw new Error('a bug')
    })
  })
  app.get('/elsewhere', async () => {
    throw new SoldOut('not mapped out here')
  })
  const sold = await app.inject({ method: 'GET', url: '/ticket' })
  t.equal(sold.statusCode, 409)
  t.same(sold.json(), { type: 'about:blank', title: 'Conflict', status: 409, detail: 'sold out' })
  const invalid = await app.inject({ method: 'GET', url: '/count?n=x' })
  t.equal(invalid.statusCode, 400, 'validation still answers as everywhere')
  t.match(invalid.json(), { errors: [{ field: 'n' }] })
  t.equal((await app.inject({ method: 'GET', url: '/broken' })).statusCode, 500)
  t.equal((await app.inject({ method: 'GET', url: '/elsewhere' })).statusCode, 500, 'scoped')
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  t.ok(doc.paths['/ticket'].get.responses['409'], 'problems() documents the refusal')
})

t.test('routes throw problems; unexpected errors are a bare 500 and logged', async (t) => {
  const { destination, lines } = captureLogs()
  const app = await buildFastify({
    service: 'test',
    logger: createLogger({ service: 'test', destination }),
  })
  app.get('/boom', async () => {
    throw new Error('database exploded')
  })
  app.get('/taken', async () => {
    throw httpError(409, 'thing 9 is taken', { headers: { 'x-why': 'taken' } })
  })
  t.teardown(() => app.close())

  const conflict = await app.inject({ method: 'GET', url: '/taken' })
  t.equal(conflict.statusCode, 409)
  t.equal(conflict.headers['x-why'], 'taken')
  t.same(conflict.json(), {
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: 'thing 9 is taken',
  })

  const boom = await app.inject({ method: 'GET', url: '/boom' })
  t.equal(boom.statusCode, 500)
  t.equal(boom.json().detail, 'the server could not complete the request')
  t.notMatch(boom.body, /exploded/)
  t.ok(lines.some((l) => l.msg === 'request failed' && l.level === 50))
})

t.test('the request id comes from x-request-id and the query is not logged', async (t) => {
  const { destination, lines } = captureLogs()
  const app = await buildFastify({
    service: 'test',
    logger: createLogger({ service: 'test', destination }),
  })
  app.get('/echo', async (request) => ({ id: request.id }))
  t.teardown(() => app.close())
  const res = await app.inject({
    method: 'GET',
    url: '/echo?otp=424242',
    headers: { 'x-request-id': 'req-1' },
  })
  t.same(res.json(), { id: 'req-1' })
  t.ok(lines.some((l) => l.request_id === 'req-1'))
  t.notMatch(JSON.stringify(lines), /424242/)
})

t.test('health: live always, ready only when every check passes', async (t) => {
  let brokerUp = true
  const app = await buildApp(t, {
    database: async () => {},
    broker: async () => {
      if (!brokerUp) throw new Error('down')
    },
  })
  const live = await app.inject({ method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200)
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok', broker: 'ok' } })
  brokerUp = false
  const notReady = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(notReady.statusCode, 503)
  t.same(notReady.json(), { status: 'unavailable', checks: { database: 'ok', broker: 'down' } })
})

t.test('a hanging check counts as down', async (t) => {
  const app = await buildFastify({
    service: 'test',
    logger: silent,
    healthChecks: { slow: () => new Promise(() => {}) },
    healthTimeoutMs: 50,
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(res.statusCode, 503)
})

t.test('metrics: served on their own listener only, by route pattern', async (t) => {
  const app = await buildApp(t)
  await app.inject({ method: 'GET', url: '/things/5' })
  const publicMetrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(publicMetrics.statusCode, 404, 'not on the public port')
  t.match(publicMetrics.headers['content-type'], /^application\/problem\+json/)

  const url = await app.listenMetrics({ host: '127.0.0.1', port: 0 })
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const res = await fetch(url)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain/)
  const body = await res.text()
  t.match(body, /process_cpu_user_seconds_total/)
  t.match(
    body,
    /http_request_duration_seconds_count\{service="test",method="GET",route="\/things\/:id",status_code="200"\} 1/,
  )
  t.equal((await fetch(url.replace('/metrics', '/things/5'))).status, 404, 'nothing else there')
  await t.rejects(app.listenMetrics({ host: '127.0.0.1', port: 0 }), /already running/)

  // A second app in the same process has its own registry.
  const other = await buildApp(t)
  const otherMetrics = await fetch(await other.listenMetrics({ host: '127.0.0.1', port: 0 }))
  t.notMatch(await otherMetrics.text(), /route="\/things\/:id"/)

  await app.close()
  await t.rejects(fetch(url), 'the listener closes with the app')
})

t.test('a body that stops arriving is cut off after the request timeout', async (t) => {
  const app = await buildFastify({
    service: 'test',
    logger: silent,
    requestTimeoutMs: 300,
    headersTimeoutMs: 200,
  })
  app.post('/things', async () => ({ ok: true }))
  t.teardown(() => app.close())
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const { afterMs, answer } = await stallAfterPartOfABody(base)
  t.ok(afterMs >= 250, `not before the timeout (${Math.round(afterMs)} ms)`)
  t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(answer, /content-type: application\/problem\+json/i)
  t.match(answer, /"status":408/)
  // Headers that never finish: cut off too.
  const { hostname, port } = new URL(base)
  const socket = net.connect(Number(port), hostname)
  socket.on('error', () => {})
  socket.resume()
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n')
  await new Promise((resolve) => socket.on('close', resolve))
  t.pass('unfinished headers are cut off')
})

t.test('the default timeouts are 30 s for a request, 10 s for its headers', async (t) => {
  t.same(timeoutOptions({}), {
    requestTimeout: 30_000,
    headersTimeout: 10_000,
    connectionsCheckingInterval: 1000,
  })
  t.same(timeoutOptions({ requestTimeoutMs: 300, headersTimeoutMs: 5000 }), {
    requestTimeout: 300,
    headersTimeout: 300,
    connectionsCheckingInterval: 30,
  })
})

t.test('openapi.json describes the routes and bearer auth', async (t) => {
  const app = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.title, 'Test API')
  t.same(doc.components.securitySchemes.bearerAuth, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  })
  t.ok(doc.paths['/things'].post.requestBody)
  t.same(doc.paths['/things/{id}'].get.security, bearerSecurity)
  t.notOk(doc.paths['/metrics'], 'infrastructure routes are hidden')
})

t.test(
  'a request runs with its request id as the correlation id, also after the body',
  async (t) => {
    const app = await buildFastify({ service: 'test', logger: silent })
    t.teardown(() => app.close())
    app.post(
      '/echo',
      { schema: { body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }) } },
      async () => {
        await new Promise((r) => setTimeout(r, 1))
        return { correlation_id: currentCorrelationId() ?? null }
      },
    )
    // Over a real socket, where the body arrives in stream events after the hooks ran.
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const ids = await Promise.all(
      ['req-a', 'req-b', 'req-c'].map(async (id) => {
        const res = await fetch(`${base}/echo`, {
          method: 'POST',
          headers: { 'x-request-id': id, 'content-type': 'application/json' },
          body: JSON.stringify({ n: 1 }),
        })
        return ((await res.json()) as { correlation_id: string | null }).correlation_id
      }),
    )
    t.same(ids, ['req-a', 'req-b', 'req-c'])
    t.equal(currentCorrelationId(), undefined, 'nothing leaks outside the request')
  },
)

t.test('a passing check may report a word instead of "ok"', async (t) => {
  let connected = false
  const app = await buildApp(t, {
    database: async () => {},
    bus: async () => (connected ? 'connected' : 'disconnected'),
  })
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok', bus: 'disconnected' } })
  connected = true
  const again = await app.inject({ method: 'GET', url: '/health/ready' })
  t.same(again.json().checks, { database: 'ok', bus: 'connected' })
})

t.test('one access line per request, none for health probes', async (t) => {
  const { destination, lines } = captureLogs()
  const app = await buildFastify({
    service: 'test',
    logger: createLogger({ service: 'test', destination }),
  })
  app.get('/things/:id', async (request) => ({ id: (request.params as { id: string }).id }))
  t.teardown(() => app.close())
  await app.inject({
    method: 'GET',
    url: '/things/7?otp=424242',
    headers: { 'x-request-id': 'req-7', authorization: 'Bearer secret-token' },
  })
  await app.inject({ method: 'GET', url: '/health/live' })
  t.equal(lines.length, 1, 'one line for the request, none for the probe')
  t.match(lines[0], {
    level: 30,
    service: 'test',
    request_id: 'req-7',
    method: 'GET',
    route: '/things/:id',
    url: '/things/7',
    status: 200,
    ms: Number,
    msg: 'request completed',
  })
  t.notMatch(JSON.stringify(lines), /424242|secret-token/)
})
