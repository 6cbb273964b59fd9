// Every query on `users`. Usernames and emails are stored lowercase (the callers normalise), so
// the unique keys compare them case-insensitively on binary columns.

import type { Role } from '@tms/contracts'
import type { Kysely, Transaction } from '@tms/db'
import type { AuthDatabase, UsersTable } from './schema.ts'

type Db = Kysely<AuthDatabase> | Transaction<AuthDatabase>

export function findUserById(db: Db, id: string): Promise<UsersTable | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}

export function findUserByLogin(
  db: Db,
  by: 'username' | 'email',
  login: string,
): Promise<UsersTable | undefined> {
  return db.selectFrom('users').selectAll().where(by, '=', login).executeTakeFirst()
}

/** The accounts that hold the username or the email already. */
export function usersHolding(
  db: Db,
  names: { username: string; email: string },
): Promise<Pick<UsersTable, 'id' | 'username' | 'email' | 'role'>[]> {
  return db
    .selectFrom('users')
    .select(['id', 'username', 'email', 'role'])
    .where((eb) => eb.or([eb('username', '=', names.username), eb('email', '=', names.email)]))
    .execute()
}

export async function emailTaken(db: Db, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('email', '=', email)
    .executeTakeFirst()
  return row !== undefined
}

/** Throws a duplicate-key error when the username or email is taken meanwhile. */
export async function insertUser(trx: Db, user: UsersTable): Promise<void> {
  await trx.insertInto('users').values(user).execute()
}

export async function setPasswordHash(trx: Db, id: string, hash: string, now: Date) {
  await trx
    .updateTable('users')
    .set({ password_hash: hash, updated_at: now })
    .where('id', '=', id)
    .execute()
}

/** A stronger hash of the same password, unless the password changed meanwhile. */
export async function upgradePasswordHash(trx: Db, id: string, from: string, to: string) {
  await trx
    .updateTable('users')
    .set({ password_hash: to })
    .where('id', '=', id)
    .where('password_hash', '=', from)
    .execute()
}

export async function setEmail(trx: Db, id: string, email: string, now: Date) {
  await trx.updateTable('users').set({ email, updated_at: now }).where('id', '=', id).execute()
}

export async function setRole(trx: Db, id: string, role: Role, now: Date) {
  await trx.updateTable('users').set({ role, updated_at: now }).where('id', '=', id).execute()
}

/**
 * The roles of the accounts, their rows locked in one order (by id), so two transactions that
 * lock the same two accounts never wait on each other in a cycle.
 */
export function lockRoles(
  trx: Transaction<AuthDatabase>,
  ids: string[],
): Promise<Pick<UsersTable, 'id' | 'role'>[]> {
  return trx
    .selectFrom('users')
    .select(['id', 'role'])
    .where('id', 'in', ids)
    .orderBy('id')
    .forUpdate()
    .execute()
}
