// Every /auth route, one plugin per resource; the typed errors of the use-cases become
// problems here (problems.ts), once for all of them.
import { type App, mapErrors } from '@tms/http'
import type { AuthDeps } from '../use-cases/deps.ts'
import { accountRoutes } from './accounts.ts'
import { keyRoutes } from './keys.ts'
import { passwordRoutes } from './passwords.ts'
import { problemFor } from './problems.ts'
import { roleRoutes } from './roles.ts'
import { sessionRoutes } from './sessions.ts'

export async function authRoutes(app: App, options: { deps: AuthDeps }) {
  mapErrors(app, problemFor)
  for (const routes of [accountRoutes, sessionRoutes, passwordRoutes, roleRoutes, keyRoutes]) {
    await app.register(routes, { deps: options.deps })
  }
}
