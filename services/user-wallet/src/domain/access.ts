// Who is an admin in the wallet: the caller's token must say so, and so must the caller's
// profile here, which follows auth.user.role-changed. An access token outlives a demotion by up
// to its lifetime (15 minutes); the profile changes as soon as the event arrives. A caller
// without a profile here is no admin.
import type { Role } from '@tms/contracts'

export function isAdmin(tokenRole: Role, profileRole: Role | undefined): boolean {
  return tokenRole === 'admin' && profileRole === 'admin'
}
