// GET /docs: the interactive docs (@fastify/swagger-ui) on the merged document, with
// @fastify/helmet on these routes (its CSP lets the UI load its own scripts and styles). The
// merged document itself is served at GET /openapi.json by the gateway's request hook (app.ts).
import helmet from '@fastify/helmet'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import type { OpenApiMerger } from '../edge/openapi.ts'
import { helmetOptions } from '../edge/security-headers.ts'

export async function apiDocs(app: FastifyInstance, options: { documents: OpenApiMerger }) {
  const { documents } = options
  await app.register(helmet, helmetOptions)
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: true, displayRequestDuration: true },
    uiHooks: {
      preHandler: async (request) => {
        if (request.url.startsWith('/docs/json')) await documents.document()
      },
    },
    transformSpecificationClone: false,
    transformSpecification: () => documents.current(),
  })
}
