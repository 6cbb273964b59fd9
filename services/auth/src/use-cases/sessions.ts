// Sessions: a login issues a token pair (a new family of refresh tokens), a refresh rotates the
// presented token, a logout revokes its family.
import { newId, type Transaction, transaction } from '@tms/db'
import type { Static } from 'typebox'
import {
  familyOf,
  insertRefreshToken,
  lockPresentedToken,
  markSpent,
  revokeFamily,
} from '../db/refresh-tokens.ts'
import type { AuthDatabase, UsersTable } from '../db/schema.ts'
import { findUserByLogin, upgradePasswordHash } from '../db/users.ts'
import { isEmailLogin } from '../domain/account.ts'
import { InvalidRefreshTokenError, WrongCredentialsError } from '../domain/errors.ts'
import { enforceAddressLimit } from '../domain/rate-limit.ts'
import {
  newRefreshToken,
  refreshDecision,
  refreshTokenExpiry,
  refreshTokenHash,
  signAccessToken,
} from '../domain/tokens.ts'
import type { LoginBody, TokenPair } from '../routes/schemas/sessions.ts'
import type { AuthDeps } from './deps.ts'
import { checkPasswordAttempt } from './passwords.ts'

type Pair = Static<typeof TokenPair>

/** Stores a new refresh token of the family (a new family for a login) and signs the pair. */
async function issueTokenPair(
  deps: AuthDeps,
  trx: Transaction<AuthDatabase>,
  user: Pick<UsersTable, 'id' | 'role' | 'username'>,
  now: Date,
  familyId: string = newId(),
): Promise<Pair> {
  const refreshToken = newRefreshToken()
  await insertRefreshToken(trx, {
    id: newId(),
    token_hash: refreshTokenHash(refreshToken),
    user_id: user.id,
    family_id: familyId,
    created_at: now,
    expires_at: refreshTokenExpiry(deps.settings, now),
    spent_at: null,
    revoked_at: null,
  })
  return {
    access_token: await signAccessToken(deps.keys, deps.settings, user, now),
    token_type: 'bearer',
    expires_in: deps.settings.accessTokenTtlSeconds,
    refresh_token: refreshToken,
  }
}

export async function login(
  deps: AuthDeps,
  credentials: Pick<Static<typeof LoginBody>, 'username' | 'password'>,
  address: string,
): Promise<Pair> {
  const name = credentials.username.trim().toLowerCase()
  enforceAddressLimit(deps.limits.perAddress, 'password', address)
  const user = await findUserByLogin(deps.db, isEmailLogin(name) ? 'email' : 'username', name)
  // One count per account however it is named; an unknown login by what was typed. The same
  // hashing work whether or not the account exists, and the same answer.
  const ok = await checkPasswordAttempt(deps, {
    account: user ? `user:${user.id}` : `login:${name}`,
    address,
    password: credentials.password,
    hash: user?.password_hash,
  })
  if (!user || !ok) throw new WrongCredentialsError()
  const stronger = deps.passwords.needsRehash(user.password_hash)
    ? await deps.passwords.hash(credentials.password)
    : undefined
  return transaction(deps.db, async (trx) => {
    if (stronger) await upgradePasswordHash(trx, user.id, user.password_hash, stronger)
    return issueTokenPair(deps, trx, user, deps.clock.now())
  })
}

/**
 * A new pair for a live refresh token, which is spent. A spent token presented again was
 * stolen or replayed: its whole family is revoked.
 */
export async function refresh(deps: AuthDeps, refreshToken: string): Promise<Pair> {
  const hash = refreshTokenHash(refreshToken)
  const outcome = await transaction(deps.db, async (trx) => {
    const now = deps.clock.now()
    const token = await lockPresentedToken(trx, hash)
    const decision = refreshDecision(token, now)
    if (!token || decision === 'refuse') return { kind: 'refused' as const }
    if (decision === 'reuse') {
      await revokeFamily(trx, token.family_id, now)
      return { kind: 'reused' as const, userId: token.user_id }
    }
    await markSpent(trx, token.id, now)
    const user = { id: token.user_id, username: token.username, role: token.role }
    return {
      kind: 'rotated' as const,
      pair: await issueTokenPair(deps, trx, user, now, token.family_id),
    }
  })
  if (outcome.kind === 'reused') {
    deps.logger.warn({ user_id: outcome.userId }, 'spent refresh token reused; family revoked')
  }
  if (outcome.kind !== 'rotated') throw new InvalidRefreshTokenError()
  return outcome.pair
}

/** Revokes the token's family; an unknown token is no error (logging out twice is fine). */
export async function logout(deps: AuthDeps, refreshToken: string): Promise<void> {
  const hash = refreshTokenHash(refreshToken)
  await transaction(deps.db, async (trx) => {
    const family = await familyOf(trx, hash)
    if (family) await revokeFamily(trx, family, deps.clock.now())
  })
}
