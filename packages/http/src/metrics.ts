// Prometheus metrics: a registry per app (tests build many apps in one process), Node's
// default metrics and a request-duration histogram labelled by route pattern, never by the raw
// URL, which would explode the label set.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
}

export interface MetricsOptions {
  /** A label on every metric, e.g. the service name. */
  service?: string
}

export const metrics = fp<MetricsOptions>(
  async (app: FastifyInstance, options) => {
    const registry = new Registry()
    if (options.service) registry.setDefaultLabels({ service: options.service })
    collectDefaultMetrics({ register: registry })
    const duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
    app.decorate('metrics', registry)

    // Our own clock: reply.elapsed depends on request logging, which probes switch off.
    const started = new WeakMap<object, number>()
    app.addHook('onRequest', async (request) => {
      started.set(request, performance.now())
    })
    app.addHook('onResponse', async (request, reply) => {
      const start = started.get(request)
      if (start === undefined) return
      duration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        (performance.now() - start) / 1000,
      )
    })

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      return reply.type(registry.contentType).send(await registry.metrics())
    })
  },
  { name: '@tms/http/metrics', fastify: '5.x' },
)
