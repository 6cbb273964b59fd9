// The service's OpenAPI document, built by @fastify/swagger from the routes' TypeBox schemas and
// served at GET /openapi.json; the gateway merges the services' documents.
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface OpenApiOptions {
  title: string
  version?: string
  description?: string
  /** Where the OAuth2 password flow posts the login form (the docs' Authorize button). */
  tokenUrl?: string
}

/** Put on a route schema (`security: bearerSecurity`) that needs an access token. */
export const bearerSecurity: Record<string, string[]>[] = [
  { bearerAuth: [] },
  { oauth2Password: [] },
]

export const openApi = fp<OpenApiOptions>(
  async (app: FastifyInstance, options) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: options.title,
          version: options.version ?? '1.0.0',
          description: options.description,
        },
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            oauth2Password: {
              type: 'oauth2',
              flows: { password: { tokenUrl: options.tokenUrl ?? '/auth/login', scopes: {} } },
            },
          },
        },
      },
    })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  },
  { name: '@tms/http/openapi', fastify: '5.x' },
)
