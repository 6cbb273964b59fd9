// Accounts: signup, the first admin, and an email change. An account comes to be one way only,
// createAccount: its row and its registered event, in one transaction.
import { isValidEmail, isValidUsername, normalizeEmail, normalizeUsername } from '@tms/contracts'
import { isDuplicateKey, newId, transaction } from '@tms/db'
import type { Logger } from '@tms/logging'
import type { Static } from 'typebox'
import { enqueueMail } from '../db/mail.ts'
import { dropResetCode } from '../db/reset-codes.ts'
import type { UsersTable } from '../db/schema.ts'
import { emailTaken, insertUser, setEmail, usersHolding } from '../db/users.ts'
import { AccountTakenError, WeakPasswordError } from '../domain/errors.ts'
import { passwordProblem } from '../domain/password.ts'
import { enforceAddressLimit } from '../domain/rate-limit.ts'
import { userEmailChanged, userRegistered } from '../events/publish.ts'
import type { Account, EmailChangeBody, SignupBody } from '../routes/schemas/accounts.ts'
import type { AuthDeps } from './deps.ts'
import { accountWithPassword } from './passwords.ts'

type AccountView = Static<typeof Account>
type NewAccount = Omit<UsersTable, 'id' | 'created_at' | 'updated_at'>

/** Inserts the account and publishes auth.user.registered; a duplicate key means it is taken. */
async function createAccount(
  deps: Pick<AuthDeps, 'db' | 'bus' | 'clock'>,
  account: NewAccount,
): Promise<UsersTable> {
  const now = deps.clock.now()
  const user: UsersTable = { id: newId(), ...account, created_at: now, updated_at: now }
  await transaction(deps.db, async (trx) => {
    await insertUser(trx, user)
    await userRegistered(deps.bus, trx, user)
  })
  return user
}

function view(user: Pick<UsersTable, 'id' | 'username' | 'email' | 'role'>): AccountView {
  return { id: user.id, username: user.username, email: user.email, role: user.role }
}

export async function signup(
  deps: AuthDeps,
  body: Static<typeof SignupBody>,
  address: string,
): Promise<AccountView> {
  enforceAddressLimit(deps.limits.signupPerAddress, 'signup', address)
  const username = normalizeUsername(body.username)
  const email = normalizeEmail(body.email)
  const weak = passwordProblem(body.password, { username, email })
  if (weak) throw new WeakPasswordError('password', weak)
  const taken = await usersHolding(deps.db, { username, email })
  if (taken.some((u) => u.username === username))
    throw new AccountTakenError('the username is taken')
  if (taken.length > 0) throw new AccountTakenError('the email belongs to another account')
  try {
    const user = await createAccount(deps, {
      username,
      email,
      password_hash: await deps.passwords.hash(body.password),
      role: body.role,
      name: body.name ?? null,
      phone: body.phone ?? null,
    })
    return view(user)
  } catch (err) {
    // A concurrent signup took the name between the check and the insert.
    if (isDuplicateKey(err)) throw new AccountTakenError('the username or email is taken')
    throw err
  }
}

export async function changeEmail(
  deps: AuthDeps,
  callerId: string,
  change: Static<typeof EmailChangeBody>,
  address: string,
): Promise<AccountView> {
  const newEmail = normalizeEmail(change.new_email)
  const user = await accountWithPassword(deps, callerId, change.current_password, address)
  if (newEmail === user.email) return view(user)
  const taken = () => new AccountTakenError('the email belongs to another account')
  if (await emailTaken(deps.db, newEmail)) throw taken()
  try {
    await transaction(deps.db, async (trx) => {
      const now = deps.clock.now()
      await setEmail(trx, user.id, newEmail, now)
      // A code mailed to the old address must not outlive the change.
      await dropResetCode(trx, user.id)
      await userEmailChanged(deps.bus, trx, { user_id: user.id, email: newEmail })
      await enqueueMail(
        trx,
        {
          to: user.email,
          subject: 'Your email address was changed',
          text: `The email address of your account ${user.username} was changed to ${newEmail}. If you did not do this, contact support at once.`,
        },
        now,
      )
    })
  } catch (err) {
    if (isDuplicateKey(err)) throw taken()
    throw err
  }
  return view({ ...user, email: newEmail })
}

export interface AdminSeed {
  username: string
  email: string
  password: string
}

/**
 * The first admin, from ADMIN_USERNAME / ADMIN_EMAIL / ADMIN_PASSWORD at start-up: created once
 * however often the service starts (or how many replicas start at once), and never by
 * promoting an existing account.
 */
export async function ensureFirstAdmin(
  deps: Pick<AuthDeps, 'db' | 'bus' | 'clock' | 'passwords'> & { logger: Logger },
  seed: AdminSeed,
): Promise<'created' | 'exists' | 'conflict'> {
  const username = normalizeUsername(seed.username)
  const email = normalizeEmail(seed.email)
  if (!isValidUsername(username)) throw new Error('ADMIN_USERNAME must match ^[a-z0-9_.-]{3,32}$')
  if (!isValidEmail(email)) throw new Error('ADMIN_EMAIL must be a valid email address')
  const weak = passwordProblem(seed.password, { username, email })
  if (weak) throw new Error(`ADMIN_PASSWORD ${weak}`)

  const existing = await usersHolding(deps.db, { username, email })
  if (existing.length > 0) {
    if (existing.every((u) => u.role === 'admin')) return 'exists'
    deps.logger.error(
      { username, email },
      'ADMIN_USERNAME or ADMIN_EMAIL belongs to an account that is not an admin; it is not promoted and no admin is created',
    )
    return 'conflict'
  }
  try {
    await createAccount(deps, {
      username,
      email,
      password_hash: await deps.passwords.hash(seed.password),
      role: 'admin',
      name: null,
      phone: null,
    })
  } catch (err) {
    // Another instance starting at the same moment created it first.
    if (isDuplicateKey(err)) return ensureFirstAdmin(deps, seed)
    throw err
  }
  deps.logger.info({ username }, 'first admin created')
  return 'created'
}
