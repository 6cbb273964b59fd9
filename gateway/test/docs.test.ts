// The merged OpenAPI document, the docs UI on it, /health, and what stays off the public port.
import t from 'tap'
import { routeTable, type Service } from '../src/edge/route-table.ts'
import { startOperatorListener } from '../src/operator.ts'
import { bearer, loginAs, startSystem } from './helpers.ts'

const operations = ['get', 'put', 'post', 'patch', 'delete'] as const
const openApiPath = (pattern: string) => pattern.replace(/:([A-Za-z_]+)/g, '{$1}')

t.test(
  '/openapi.json merges the services: each path once, every SPEC auth and user path',
  async (t) => {
    const system = await startSystem(t)
    const res = await system.gateway.app.inject({ url: '/openapi.json' })
    t.equal(res.statusCode, 200)
    const doc = res.json()
    t.equal(doc.openapi, '3.1.0')
    const paths = Object.keys(doc.paths)

    // Every operation the services that exist document and the table lets through, once.
    for (const service of ['auth', 'user']) {
      const upstream = service === 'auth' ? system.auth : system.wallet
      const serviceDoc = (await upstream.app.inject({ url: '/openapi.json' })).json()
      for (const [path, item] of Object.entries(serviceDoc.paths as Record<string, object>)) {
        if (path === '/') continue // the gateway's own root check answers there
        for (const method of operations) {
          if (!(method in item)) continue
          const listed = routeTable.some(
            (r) => openApiPath(r.path) === path && r.method === method.toUpperCase(),
          )
          if (listed) t.ok(doc.paths[path]?.[method], `${method} ${path} is in the merged document`)
          else
            t.notOk(doc.paths[path]?.[method], `${method} ${path} is not reachable, not documented`)
        }
      }
    }
    // The SPEC's auth and user endpoints (the route table lists them) all appear.
    for (const rule of routeTable.filter((r) => /^\/(auth|user)\//.test(r.path))) {
      t.ok(
        doc.paths[openApiPath(rule.path)]?.[rule.method.toLowerCase()],
        `${rule.method} ${rule.path} documented`,
      )
    }
    t.equal(new Set(paths).size, paths.length, 'each path once')
    const normalized = paths.map((p) => p.replace(/\{[^}]+\}/g, '{}'))
    t.equal(
      new Set(normalized).size,
      normalized.length,
      'no path twice under other parameter names',
    )
    for (const hidden of ['/metrics', '/health/ready', '/health/live', '/user/me/x']) {
      t.notOk(doc.paths[hidden], `${hidden} not documented`)
    }
    t.ok(
      doc.paths['/health'] && doc.paths['/'] && doc.paths['/openapi.json'],
      "the gateway's own routes",
    )

    // One pair of security schemes; the password flow logs in through /auth/login.
    t.same(Object.keys(doc.components.securitySchemes).sort(), ['bearerAuth', 'oauth2Password'])
    t.equal(doc.components.securitySchemes.oauth2Password.flows.password.tokenUrl, '/auth/login')
    t.same(doc.paths['/user/me'].get.security, [{ bearerAuth: [] }, { oauth2Password: [] }])
    t.same(doc.paths['/auth/login'].post.security, [], 'public routes need no token')
  },
)

t.test('the merged document follows a service that changes', async (t) => {
  const system = await startSystem(t, { settings: { openapiTtlMs: 60_000 } })
  const { app, clock } = system.gateway
  const first = (await app.inject({ url: '/openapi.json' })).json()
  t.notOk(first.paths['/academic/class-sessions'], 'the academic stand-in has no document')
  // The stand-in starts serving a document; the gateway asks again once the TTL has passed.
  system.files.openapi = {
    openapi: '3.1.0',
    info: { title: 'academic', version: '1' },
    paths: {
      '/academic/class-sessions': { get: { summary: 'sessions', responses: {} } },
      '/academic/internal': { get: { summary: 'not in the table', responses: {} } },
    },
  }
  const cached = (await app.inject({ url: '/openapi.json' })).json()
  t.notOk(cached.paths['/academic/class-sessions'], 'within the TTL: the cached document')
  clock.advance(60_000)
  const refreshed = (await app.inject({ url: '/openapi.json' })).json()
  t.ok(refreshed.paths['/academic/class-sessions']?.get, 'after it: the new operation')
  t.notOk(refreshed.paths['/academic/internal'], 'an operation the table does not list stays out')
})

t.test('/docs serves the UI on the merged document', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const page = await app.inject({ url: '/docs/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  const json = (await app.inject({ url: '/docs/json' })).json()
  t.ok(json.paths['/user/me'], 'the UI reads the merged document')
  const init = await app.inject({ url: '/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
})

t.test('/health reports each service; /metrics is not on the public port', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 503, 'notifications is configured but does not answer: degraded')
  const body = health.json()
  t.equal(body.status, 'degraded')
  t.equal(body.services.auth.status, 'ok', 'auth runs with its bus, so it is ready')
  t.equal(body.services.user.status, 'ok')
  t.equal(body.services.academic.status, 'ok')
  t.equal(body.services.notifications.status, 'down')
  t.equal(body.gateway.status, 'ok')

  const student = await loginAs(system, 'student')
  await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
  const publicMetrics = await app.inject({ url: '/metrics' })
  t.equal(publicMetrics.statusCode, 404)
  // The operator's listener serves them, on an address of its own.
  const operator = await startOperatorListener(app.metrics, '127.0.0.1', 0)
  t.teardown(() => operator.close())
  const scraped = await fetch(`${operator.url}/metrics`)
  t.equal(scraped.status, 200)
  t.match(await scraped.text(), /http_request_duration_seconds_bucket\{[^}]*route="\/user\/me"/)
  t.equal((await fetch(`${operator.url}/anything`)).status, 404)
})

t.test(
  'a service configured as `none` is not deployed: 503 on its routes, not in the way of /health',
  async (t) => {
    const system = await startSystem(t, {
      origins: { notifications: [] } as unknown as Record<Service, string[]>,
    })
    const { app } = system.gateway
    const health = await app.inject({ url: '/health' })
    t.equal(health.statusCode, 200, 'every deployed service is ready')
    t.same(health.json().services.notifications, { status: 'not deployed', replicas: [] })
    const student = await loginAs(system, 'student')
    const res = await app.inject({ url: '/notifications', headers: bearer(student.access_token) })
    t.equal(res.statusCode, 503)
    t.match(res.json(), { status: 503, detail: 'the notifications service is not deployed here' })
    t.equal((await app.inject({ url: '/openapi.json' })).statusCode, 200, 'the docs merge the rest')
  },
)
