// The first admin, from ADMIN_USERNAME / ADMIN_EMAIL / ADMIN_PASSWORD at start-up: created once
// however often the service starts, and never by promoting an existing account.
import { isValidEmail, isValidUsername, normalizeEmail, normalizeUsername } from '@tms/contracts'
import { isDuplicateKey, newId, transaction } from '@tms/db'
import type { Logger } from '@tms/logging'
import type { Kysely } from 'kysely'
import type { Clock } from './clock.ts'
import type { AuthDatabase } from './db/schema.ts'
import { type PasswordChecker, passwordProblem } from './domain/password.ts'
import { type EventOutbox, userRegistered } from './events/publish.ts'

export interface AdminSeed {
  username: string
  email: string
  password: string
}

export type AdminBootstrapResult = 'created' | 'exists' | 'conflict'

export async function ensureAdmin(
  deps: {
    db: Kysely<AuthDatabase>
    bus: EventOutbox
    passwords: PasswordChecker
    clock: Clock
    logger: Logger
  },
  seed: AdminSeed,
): Promise<AdminBootstrapResult> {
  const username = normalizeUsername(seed.username)
  const email = normalizeEmail(seed.email)
  if (!isValidUsername(username)) throw new Error('ADMIN_USERNAME must match ^[a-z0-9_.-]{3,32}$')
  if (!isValidEmail(email)) throw new Error('ADMIN_EMAIL must be a valid email address')
  const weak = passwordProblem(seed.password, { username, email })
  if (weak) throw new Error(`ADMIN_PASSWORD ${weak}`)

  const existing = await deps.db
    .selectFrom('users')
    .select(['id', 'username', 'email', 'role'])
    .where((eb) => eb.or([eb('username', '=', username), eb('email', '=', email)]))
    .execute()
  if (existing.length > 0) {
    if (existing.every((u) => u.role === 'admin')) return 'exists'
    deps.logger.error(
      { username, email },
      'ADMIN_USERNAME or ADMIN_EMAIL belongs to an account that is not an admin; it is not promoted and no admin is created',
    )
    return 'conflict'
  }

  const passwordHash = await deps.passwords.hash(seed.password)
  const now = deps.clock.now()
  const user = {
    id: newId(),
    username,
    email,
    password_hash: passwordHash,
    role: 'admin' as const,
    name: null,
    phone: null,
    created_at: now,
    updated_at: now,
  }
  try {
    await transaction(deps.db, async (trx) => {
      await trx.insertInto('users').values(user).execute()
      await userRegistered(deps.bus, trx, user)
    })
  } catch (err) {
    // Another instance starting at the same moment created it first.
    if (isDuplicateKey(err)) return ensureAdmin(deps, seed)
    throw err
  }
  deps.logger.info({ username }, 'first admin created')
  return 'created'
}
