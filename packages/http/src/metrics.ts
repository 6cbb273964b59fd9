// Prometheus metrics: a registry per app (tests build many apps in one process), Node's
// default metrics and a request-duration histogram labelled by route pattern, never by the raw
// URL, which would explode the label set.
//
// They are served only by a listener of their own (`app.listenMetrics({ host, port })`, on
// 127.0.0.1 unless the operator says otherwise), where the operator's scraper reaches and the
// gateway and the public do not; the app's public port has no /metrics.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
    /**
     * Serves `GET /metrics` on a listener of its own until the app closes; resolves to its
     * URL. Port 0 takes a free port.
     */
    listenMetrics(options: { host: string; port: number }): Promise<string>
  }
}

export interface MetricsOptions {
  /** A label on every metric, e.g. the service name. */
  service?: string
  /** Node server timeouts for the metrics listener (see timeoutOptions). */
  timeouts?: http.ServerOptions
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

    // Fastify times every request (a logger is always given, see app.ts); a synchronous hook
    // costs no promise.
    app.addHook('onResponse', (request, reply, done) => {
      duration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      )
      done()
    })

    let server: http.Server | undefined
    app.decorate('listenMetrics', async ({ host, port }: { host: string; port: number }) => {
      if (server) throw new Error('the metrics listener is already running')
      const listener = http.createServer(options.timeouts ?? {}, (req, res) => {
        if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
          res.writeHead(404, { 'content-type': 'application/problem+json' })
          res.end(
            JSON.stringify({
              type: 'about:blank',
              title: 'Not Found',
              status: 404,
              detail: 'only GET /metrics is served here',
            }),
          )
          return
        }
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType })
            res.end(text)
          },
          (err) => {
            app.log.error({ err }, 'metrics could not be collected')
            res.writeHead(500).end()
          },
        )
      })
      server = listener
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject)
        listener.listen(port, host, () => {
          listener.off('error', reject)
          resolve()
        })
      })
      const address = listener.address() as AddressInfo
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
      return `http://${shown}:${address.port}/metrics`
    })
    app.addHook('onClose', async () => {
      const listener = server
      if (!listener) return
      await new Promise<void>((resolve) => {
        listener.close(() => resolve())
        listener.closeAllConnections()
      })
    })
  },
  { name: '@tms/http/metrics', fastify: '5.x' },
)
