// GET /health: the gateway's own state and each service's readiness, every replica asked.
// (/health/live and /health/ready are the gateway's own, from @tms/http, for an orchestrator.)
import { type App, ProblemSchema } from '@tms/http'
import Type from 'typebox'
import type { KeySource } from '../edge/keys.ts'
import { type Service, services } from '../edge/route-table.ts'
import type { Upstream } from '../edge/upstreams.ts'

const Status = Type.Union([Type.Literal('ok'), Type.Literal('down')])
const ServiceHealth = Type.Object({
  status: Type.Union([Status, Type.Literal('not deployed')]),
  replicas: Type.Array(Type.Object({ origin: Type.String(), status: Status })),
})
const HealthBody = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  gateway: Type.Object({ status: Type.Literal('ok'), signing_keys: Type.Boolean() }),
  services: Type.Record(Type.String(), ServiceHealth),
})

export async function serviceHealth(
  app: App,
  options: { upstreams: Record<Service, Upstream>; keys: KeySource },
) {
  app.get(
    '/health',
    {
      // Polled every few seconds by monitors (and by `scripts/tms up`): not a line each.
      logLevel: 'warn',
      schema: {
        summary: "The gateway's and each service's readiness",
        description:
          'Each replica of each service is asked for its readiness. 200 when every deployed service has a ready replica, else 503 (the gateway still serves the others). A service configured with no address (`none`) is `not deployed` and does not count.',
        tags: ['gateway'],
        response: { 200: HealthBody, 503: HealthBody, 429: ProblemSchema },
      },
    },
    async (_request, reply) => {
      if (!options.keys.loaded()) await options.keys.warm()
      const entries = await Promise.all(
        services.map(async (service) => {
          const upstream = options.upstreams[service]
          if (!upstream.deployed)
            return [service, { status: 'not deployed', replicas: [] }] as const
          const replicas = await upstream.readiness(1500)
          const status = replicas.some((r) => r.status === 'ok') ? 'ok' : 'down'
          return [service, { status, replicas }] as const
        }),
      )
      const healthy = entries.every(([, s]) => s.status !== 'down')
      return reply.code(healthy ? 200 : 503).send({
        status: healthy ? 'ok' : 'degraded',
        gateway: { status: 'ok', signing_keys: options.keys.loaded() },
        services: Object.fromEntries(entries),
      })
    },
  )
}
