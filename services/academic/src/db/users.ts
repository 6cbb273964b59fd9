// The service's copy of the accounts it needs (username, name, role), from auth's events.
import type { Role } from '@tms/contracts'
import type { Kysely, Transaction } from '@tms/db'
import type { AcademicDatabase, UsersTable } from './schema.ts'

type Db = Kysely<AcademicDatabase> | Transaction<AcademicDatabase>

/** By user_id: a registration seen again changes nothing but what it carries. */
export async function upsertUser(db: Db, user: UsersTable): Promise<void> {
  await db
    .insertInto('users')
    .values(user)
    .onDuplicateKeyUpdate({ username: user.username, name: user.name, role: user.role })
    .execute()
}

/** False when the user is not known yet (its registration has not arrived). */
export async function changeRole(db: Db, userId: string, role: Role, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ role, updated_at: now })
    .where('user_id', '=', userId)
    .executeTakeFirst()
  if (result.numUpdatedRows > 0n) return true
  // The driver counts changed rows only: an unchanged existing row is fine too.
  return (await findUser(db, userId)) !== undefined
}

export function findUser(db: Db, userId: string): Promise<UsersTable | undefined> {
  return db.selectFrom('users').selectAll().where('user_id', '=', userId).executeTakeFirst()
}

/** The account's role, locked for the rest of the transaction (a role change waits for it). */
export function lockUser(
  trx: Transaction<AcademicDatabase>,
  userId: string,
): Promise<Pick<UsersTable, 'role'> | undefined> {
  return trx
    .selectFrom('users')
    .select('role')
    .where('user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst()
}
