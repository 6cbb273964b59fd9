// Every query on `profile`: the copy of auth's accounts that the events keep current.
import type { Role } from '@tms/contracts'
import { type Kysely, sql, type Transaction } from '@tms/db'
import type { ProfileTable, WalletDatabase } from './schema.ts'

type Db = Kysely<WalletDatabase> | Transaction<WalletDatabase>

export function findProfile(
  db: Db,
  by: 'user_id' | 'email' | 'username',
  value: string,
): Promise<ProfileTable | undefined> {
  return db.selectFrom('profile').selectAll().where(by, '=', value).executeTakeFirst()
}

/** A profile with its wallet's two balances (0 without a wallet yet). */
export interface ProfileWithWallet extends ProfileTable {
  available: number
  held: number
}

const profileColumn = {
  user_id: sql.ref('p.user_id'),
  email: sql.ref('p.email'),
  username: sql.ref('p.username'),
}

/**
 * The profile and its balances in one statement (a round trip fewer for every read). Written
 * as SQL rather than with the query builder: this is the read behind every `/user/me`, and
 * building the query with its two subqueries cost more CPU than the database's answer.
 */
export async function findProfileWithWallet(
  db: Db,
  by: 'user_id' | 'email' | 'username',
  value: string,
): Promise<ProfileWithWallet | undefined> {
  const { rows } = await sql<ProfileTable & { available: number | null; held: number | null }>`
    SELECT p.*,
      (SELECT balance FROM account WHERE user_id = p.user_id AND kind = 'available') AS available,
      (SELECT balance FROM account WHERE user_id = p.user_id AND kind = 'held') AS held
    FROM profile p WHERE ${profileColumn[by]} = ${value}`.execute(db)
  const row = rows[0]
  if (!row) return undefined
  return { ...row, available: Number(row.available ?? 0), held: Number(row.held ?? 0) }
}

export async function profileRole(db: Db, userId: string): Promise<Role | undefined> {
  const row = await db
    .selectFrom('profile')
    .select('role')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return row?.role
}

export function lockProfile(trx: Transaction<WalletDatabase>, userId: string) {
  return trx
    .selectFrom('profile')
    .selectAll()
    .where('user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst()
}

/** Throws a duplicate-key error when the id or the username is taken. */
export async function insertProfile(trx: Db, profile: ProfileTable): Promise<void> {
  await trx.insertInto('profile').values(profile).execute()
}

export async function updateProfileFields(
  db: Db,
  userId: string,
  changes: { name?: string | null; phone?: string | null },
  now: Date,
): Promise<void> {
  if (Object.keys(changes).length === 0) return
  await db
    .updateTable('profile')
    .set({ ...changes, updated_at: now })
    .where('user_id', '=', userId)
    .execute()
}

/** The profile as a registered event says, made or brought in line (by user_id). */
export async function upsertRegistered(
  trx: Db,
  profile: Omit<ProfileTable, 'created_at' | 'updated_at'>,
  now: Date,
): Promise<void> {
  const p = profile
  await sql`INSERT INTO profile (user_id, username, email, name, phone, role, created_at, updated_at)
    VALUES (${p.user_id}, ${p.username}, ${p.email}, ${p.name}, ${p.phone}, ${p.role}, ${now}, ${now})
    ON DUPLICATE KEY UPDATE username = VALUES(username), email = VALUES(email),
      name = VALUES(name), phone = VALUES(phone), role = VALUES(role),
      updated_at = VALUES(updated_at)`.execute(trx)
}

/** Sets the role or email; returns whether the profile exists. */
export async function changeProfile(
  trx: Db,
  userId: string,
  change: { role: Role } | { email: string },
  now: Date,
): Promise<boolean> {
  const result = await trx
    .updateTable('profile')
    .set({ ...change, updated_at: now })
    .where('user_id', '=', userId)
    .executeTakeFirst()
  if (result.numUpdatedRows > 0n) return true
  // The driver may count only changed rows: an unchanged existing row still exists.
  return (await findProfile(trx, 'user_id', userId)) !== undefined
}
