// Signing keys.
//
//   method  path                         who     what
//   GET     /auth/.well-known/jwks.json  anyone  the public keys that verify access tokens
import type { App } from '@tms/http'
import type { AuthDeps } from '../use-cases/deps.ts'
import { Jwks } from './schemas/keys.ts'

export async function keyRoutes(app: App, { deps }: { deps: AuthDeps }) {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        summary: 'Public keys that verify access tokens',
        tags: ['auth'],
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return deps.keys.jwks
    },
  )
}
