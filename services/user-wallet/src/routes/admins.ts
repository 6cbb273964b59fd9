// The hook of the admin-only scopes: the caller's token and profile must both say admin
// (use-cases/access.ts); the /user scope above has already checked the token.
import { currentUser } from '@tms/jwt'
import type { FastifyRequest } from 'fastify'
import { requireAdmin } from '../use-cases/access.ts'
import type { WalletDeps } from '../use-cases/deps.ts'

export function onlyAdmins(deps: WalletDeps) {
  return (request: FastifyRequest) => requireAdmin(deps, currentUser(request))
}
