// Every /user route: one plugin per resource. Each needs an access token (checked once, for the
// whole scope), and the typed errors of the use-cases become problems here (problems.ts).
import { type App, mapErrors } from '@tms/http'
import { requireAuthentication } from '@tms/jwt'
import type { WalletDeps } from '../use-cases/deps.ts'
import { problemFor } from './problems.ts'
import { userRoutes } from './user.ts'
import { type IdempotencyHooks, walletRoutes } from './wallet.ts'

export async function walletServiceRoutes(
  app: App,
  options: { deps: WalletDeps; idempotency?: IdempotencyHooks },
) {
  mapErrors(app, problemFor)
  requireAuthentication(app)
  await app.register(userRoutes, { deps: options.deps })
  await app.register(walletRoutes, { deps: options.deps, idempotency: options.idempotency })
}
