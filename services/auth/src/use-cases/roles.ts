// Roles: only an admin changes one, and "admin" means admin in auth's records now, not as the
// caller's token says (a token outlives a demotion by up to its lifetime).
import { transaction } from '@tms/db'
import type { Static } from 'typebox'
import { lockRoles, setRole } from '../db/users.ts'
import { NoSuchAccountError, NotAdminError, OwnRoleError } from '../domain/errors.ts'
import { userRoleChanged } from '../events/publish.ts'
import type { RoleAnswer, UpdateRoleBody } from '../routes/schemas/roles.ts'
import type { AuthDeps } from './deps.ts'

export async function updateRole(
  deps: AuthDeps,
  callerId: string,
  change: Static<typeof UpdateRoleBody>,
): Promise<Static<typeof RoleAnswer>> {
  const { user_id: userId, role } = change
  await transaction(deps.db, async (trx) => {
    // Both rows locked in one order: a demotion and a promotion by the one demoted cannot
    // interleave, and two admins changing each other at once do not wait in a cycle.
    const rows = await lockRoles(trx, [callerId, userId])
    if (rows.find((r) => r.id === callerId)?.role !== 'admin') throw new NotAdminError()
    // Keeps the last admin from locking everyone out by accident.
    if (userId === callerId) throw new OwnRoleError()
    const user = rows.find((r) => r.id === userId)
    if (!user) throw new NoSuchAccountError()
    if (user.role === role) return
    await setRole(trx, userId, role, deps.clock.now())
    await userRoleChanged(deps.bus, trx, { user_id: userId, role, changed_by: callerId })
  })
  return { id: userId, role }
}
