// Liveness answers while the process runs; readiness also asks each dependency (database,
// broker), so an orchestrator stops routing to an instance that cannot serve.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export type HealthCheck = () => Promise<unknown>

export interface HealthOptions {
  checks?: Record<string, HealthCheck>
  /** A check that has not answered by then counts as down. */
  timeoutMs?: number
}

function withTimeout(check: HealthCheck, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([check(), timeout]).finally(() => clearTimeout(timer))
}

export const health = fp<HealthOptions>(
  async (app: FastifyInstance, options) => {
    const checks = Object.entries(options.checks ?? {})
    const timeoutMs = options.timeoutMs ?? 2000

    app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }))

    app.get('/health/ready', { schema: { hide: true } }, async (request, reply) => {
      const results = await Promise.all(
        checks.map(async ([name, check]) => {
          try {
            await withTimeout(check, timeoutMs)
            return [name, 'ok'] as const
          } catch (err) {
            request.log.warn({ err, check: name }, 'readiness check failed')
            return [name, 'down'] as const
          }
        }),
      )
      const ready = results.every(([, state]) => state === 'ok')
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ok' : 'unavailable', checks: Object.fromEntries(results) })
    })
  },
  { name: '@tms/http/health', fastify: '5.x' },
)
