// Liveness answers while the process runs; readiness also asks each dependency (database,
// bus), so an orchestrator stops routing to an instance that cannot serve. A check fails by
// throwing; one that passes may resolve to a word shown instead of "ok".
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
            const result = await withTimeout(check, timeoutMs)
            // A check that passes may say more than "ok" (the bus: whether the broker is connected).
            return [name, typeof result === 'string' ? result : 'ok', true] as const
          } catch (err) {
            request.log.warn({ err, check: name }, 'readiness check failed')
            return [name, 'down', false] as const
          }
        }),
      )
      const ready = results.every(([, , passed]) => passed)
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ok' : 'unavailable',
        checks: Object.fromEntries(results.map(([name, state]) => [name, state])),
      })
    })
  },
  { name: '@tms/http/health', fastify: '5.x' },
)
