// Every query on `refresh_tokens`: stored by SHA-256 hash, grouped in families (every token
// rotated from one login), revoked by family or by account.
import type { Transaction } from '@tms/db'
import type { AuthDatabase, RefreshTokensTable, UsersTable } from './schema.ts'

type Trx = Transaction<AuthDatabase>

export async function insertRefreshToken(trx: Trx, token: RefreshTokensTable): Promise<void> {
  await trx.insertInto('refresh_tokens').values(token).execute()
}

export type PresentedToken = Pick<
  RefreshTokensTable,
  'id' | 'family_id' | 'expires_at' | 'spent_at' | 'revoked_at'
> & { user_id: string; username: UsersTable['username']; role: UsersTable['role'] }

/** The token with its account, locked: two refreshes with one token do not both rotate it. */
export function lockPresentedToken(trx: Trx, hash: string): Promise<PresentedToken | undefined> {
  return trx
    .selectFrom('refresh_tokens')
    .innerJoin('users', 'users.id', 'refresh_tokens.user_id')
    .select([
      'refresh_tokens.id',
      'refresh_tokens.family_id',
      'refresh_tokens.expires_at',
      'refresh_tokens.spent_at',
      'refresh_tokens.revoked_at',
      'users.id as user_id',
      'users.username',
      'users.role',
    ])
    .where('refresh_tokens.token_hash', '=', hash)
    .forUpdate()
    .executeTakeFirst()
}

export async function familyOf(trx: Trx, hash: string): Promise<string | undefined> {
  const row = await trx
    .selectFrom('refresh_tokens')
    .select('family_id')
    .where('token_hash', '=', hash)
    .executeTakeFirst()
  return row?.family_id
}

export async function markSpent(trx: Trx, id: string, now: Date): Promise<void> {
  await trx.updateTable('refresh_tokens').set({ spent_at: now }).where('id', '=', id).execute()
}

export async function revokeFamily(trx: Trx, familyId: string, now: Date): Promise<void> {
  await trx
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute()
}

/** Every live refresh token of the account. */
export async function revokeAllOf(trx: Trx, userId: string, now: Date): Promise<void> {
  await trx
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute()
}
