// Who is an admin in the wallet: the token must say so, and so must the caller's profile here,
// which follows auth.user.role-changed. An access token outlives a demotion by up to its
// lifetime (15 minutes); the profile changes as soon as the event arrives, and with it every
// admin-only route and every "self or admin" read. A caller without a profile here is no admin.
import { httpError } from '@tms/http'
import { type AccessTokenUser, authenticate, currentUser } from '@tms/jwt'
import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { WalletDatabase } from './db/schema.ts'

export async function isAdmin(
  db: Kysely<WalletDatabase>,
  caller: AccessTokenUser,
): Promise<boolean> {
  if (caller.role !== 'admin') return false
  const profile = await db
    .selectFrom('profile')
    .select('role')
    .where('user_id', '=', caller.id)
    .executeTakeFirst()
  return profile?.role === 'admin'
}

/** Hook: a valid token of an admin (as above), else 401 or 403. */
export function requireAdmin(db: Kysely<WalletDatabase>) {
  return async function requireAdminHook(request: FastifyRequest): Promise<void> {
    await authenticate(request)
    if (!(await isAdmin(db, currentUser(request)))) {
      throw httpError(403, 'this action is for admin accounts')
    }
  }
}
