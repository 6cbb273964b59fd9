// Profiles as the /user routes show them: the stored profile with the wallet's balances.
import { normalizeEmail, normalizeUsername } from '@tms/contracts'
import { isDuplicateKey, transaction } from '@tms/db'
import type { Static } from 'typebox'
import { ensureWallet } from '../db/ledger.ts'
import {
  findProfileWithWallet,
  insertProfile,
  lockProfile,
  type ProfileWithWallet,
  updateProfileFields,
} from '../db/profiles.ts'
import { NoSuchUserError, ProfileConflictError, ProfileNotYetError } from '../domain/errors.ts'
import type { CreateBody, UpdateBody, UserView } from '../routes/schemas/user.ts'
import { mayAccess } from './access.ts'
import type { Caller, WalletDeps } from './deps.ts'

type View = Static<typeof UserView>

function view(deps: WalletDeps, profile: ProfileWithWallet): View {
  return {
    id: profile.user_id,
    username: profile.username,
    email: profile.email,
    name: profile.name,
    phone: profile.phone,
    role: profile.role,
    balance: profile.available + profile.held,
    available_balance: profile.available,
    currency: deps.currency,
    created_at: profile.created_at.toISOString(),
  }
}

export async function me(deps: WalletDeps, caller: Caller): Promise<View> {
  const profile = await findProfileWithWallet(deps.db, 'user_id', caller.id)
  if (!profile) throw new ProfileNotYetError()
  return view(deps, profile)
}

/** A user by id, email or username (any case), for the user or an admin; else "no such user". */
export async function lookUpUser(
  deps: WalletDeps,
  caller: Caller,
  by: 'user_id' | 'email' | 'username',
  value: string,
): Promise<View> {
  const key =
    by === 'email' ? normalizeEmail(value) : by === 'username' ? normalizeUsername(value) : value
  const profile = await findProfileWithWallet(deps.db, by, key)
  if (!profile || !(await mayAccess(deps, caller, profile.user_id))) throw new NoSuchUserError()
  return view(deps, profile)
}

/** Name and phone only (either may be null); the email changes through auth. */
export async function updateProfile(
  deps: WalletDeps,
  caller: Caller,
  userId: string,
  body: Static<typeof UpdateBody>,
): Promise<View> {
  if (!(await mayAccess(deps, caller, userId))) throw new NoSuchUserError()
  const changes: { name?: string | null; phone?: string | null } = {}
  if (body.name !== undefined) changes.name = body.name
  if (body.phone !== undefined) changes.phone = body.phone
  await updateProfileFields(deps.db, userId, changes, deps.clock.now())
  const profile = await findProfileWithWallet(deps.db, 'user_id', userId)
  if (!profile) throw new NoSuchUserError()
  return view(deps, profile)
}

/**
 * An admin's repair tool for a profile that never arrived: made as a student (the events set
 * the role), with its wallet. The same profile again is no change; a different one a conflict.
 */
export async function createProfile(
  deps: WalletDeps,
  body: Static<typeof CreateBody>,
): Promise<{ created: boolean; profile: View }> {
  const wanted = {
    user_id: body.user_id,
    username: normalizeUsername(body.username),
    email: normalizeEmail(body.email),
    name: body.name ?? null,
    phone: body.phone ?? null,
  }
  try {
    const created = await transaction(deps.db, async (trx) => {
      const existing = await lockProfile(trx, wanted.user_id)
      if (existing) {
        const same =
          existing.username === wanted.username &&
          existing.email === wanted.email &&
          existing.name === wanted.name &&
          existing.phone === wanted.phone
        if (!same) throw new ProfileConflictError()
        return false
      }
      const now = deps.clock.now()
      await insertProfile(trx, { ...wanted, role: 'student', created_at: now, updated_at: now })
      await ensureWallet(trx, wanted.user_id)
      return true
    })
    const profile = await findProfileWithWallet(deps.db, 'user_id', wanted.user_id)
    if (!profile) throw new ProfileConflictError()
    return { created, profile: view(deps, profile) }
  } catch (err) {
    if (isDuplicateKey(err)) throw new ProfileConflictError()
    throw err
  }
}
