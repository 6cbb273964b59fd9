import type { App } from '@tms/http'
import Type from 'typebox'

export async function rootRoutes(app: App) {
  app.get(
    '/',
    {
      schema: {
        summary: 'Root check',
        tags: ['health'],
        response: { 200: Type.Object({ status: Type.Literal('ok'), service: Type.String() }) },
      },
    },
    async () => ({ status: 'ok' as const, service: 'user-wallet' }),
  )
}
