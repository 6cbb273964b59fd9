// The wallet's access rules, asked by the routes' admin scope and by the use-cases.
import { profileRole } from '../db/profiles.ts'
import { isAdmin } from '../domain/access.ts'
import { NotAdminError } from '../domain/errors.ts'
import type { Caller, WalletDeps } from './deps.ts'

export async function callerIsAdmin(deps: WalletDeps, caller: Caller): Promise<boolean> {
  // A token that does not say admin needs no look at the profile.
  if (caller.role !== 'admin') return false
  return isAdmin(caller.role, await profileRole(deps.db, caller.id))
}

export async function requireAdmin(deps: WalletDeps, caller: Caller): Promise<void> {
  if (!(await callerIsAdmin(deps, caller))) throw new NotAdminError()
}

/** Another user's resource is for admins only; to anyone else it does not exist. */
export async function mayAccess(deps: WalletDeps, caller: Caller, userId: string) {
  return caller.id === userId || (await callerIsAdmin(deps, caller))
}
