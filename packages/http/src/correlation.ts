// Every request runs inside withCorrelation(request id): its log lines carry the id as
// `correlation_id`, and the events its handler writes to the outbox carry it too, so one id
// follows a change from the gateway through HTTP and the bus. Fastify continues the request's
// lifecycle from `done`, so calling it inside the context is enough; Node 24's async context
// also follows the body's stream events (a test over a real socket shows it).
import { withCorrelation } from '@tms/logging'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export const correlation = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', (request, _reply, done) => {
      withCorrelation(request.id, done)
    })
  },
  { name: 'tms-correlation' },
)
