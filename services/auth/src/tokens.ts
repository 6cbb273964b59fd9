// Issuing the token pair of a login or a refresh.
import { randomBytes } from 'node:crypto'
import { newId, type Transaction } from '@tms/db'
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYPE } from '@tms/jwt'
import { SignJWT } from 'jose'
import type { AuthDatabase, UsersTable } from './db/schema.ts'
import { newRefreshToken, refreshTokenHash } from './domain/tokens.ts'
import type { SigningKeys } from './keys.ts'

export interface TokenSettings {
  issuer: string
  accessTokenTtlSeconds: number
  refreshTokenTtlDays: number
}

export interface TokenPair {
  access_token: string
  token_type: 'bearer'
  expires_in: number
  refresh_token: string
}

export function signAccessToken(
  keys: SigningKeys,
  settings: TokenSettings,
  user: Pick<UsersTable, 'id' | 'role' | 'username'>,
  now: Date,
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000)
  return new SignJWT({ role: user.role, username: user.username })
    .setProtectedHeader({ alg: 'ES256', typ: ACCESS_TOKEN_TYPE, kid: keys.kid })
    .setSubject(user.id)
    .setIssuer(settings.issuer)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + settings.accessTokenTtlSeconds)
    .setJti(randomBytes(12).toString('base64url'))
    .sign(keys.privateKey)
}

/** Stores a new refresh token of the family (a new family for a login) and signs the pair. */
export async function issueTokenPair(
  trx: Transaction<AuthDatabase>,
  keys: SigningKeys,
  settings: TokenSettings,
  user: Pick<UsersTable, 'id' | 'role' | 'username'>,
  now: Date,
  familyId: string = newId(),
): Promise<TokenPair> {
  const refreshToken = newRefreshToken()
  await trx
    .insertInto('refresh_tokens')
    .values({
      id: newId(),
      token_hash: refreshTokenHash(refreshToken),
      user_id: user.id,
      family_id: familyId,
      created_at: now,
      expires_at: new Date(now.getTime() + settings.refreshTokenTtlDays * 24 * 60 * 60 * 1000),
      spent_at: null,
      revoked_at: null,
    })
    .execute()
  return {
    access_token: await signAccessToken(keys, settings, user, now),
    token_type: 'bearer',
    expires_in: settings.accessTokenTtlSeconds,
    refresh_token: refreshToken,
  }
}

/** Revokes every live refresh token of the account (password change or reset). */
export async function revokeAllRefreshTokens(
  trx: Transaction<AuthDatabase>,
  userId: string,
  now: Date,
): Promise<void> {
  await trx
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute()
}

export async function revokeFamily(
  trx: Transaction<AuthDatabase>,
  familyId: string,
  now: Date,
): Promise<void> {
  await trx
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute()
}
