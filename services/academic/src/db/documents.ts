// The documents of tutor profiles, and the two tables that keep the store and the database in
// step without ever listing the store:
// - an intent (storage_key, created_at) is committed before an object is written; the
//   transaction that records the document deletes it. An intent older than the sweep's grace
//   period is an upload that never committed (a crash, a failed cleanup): the sweep deletes its
//   object, if any, and the intent.
// - a tombstone is inserted in the transaction that deletes a document row; the object is
//   deleted after the commit, then the tombstone. One left behind is retried by the sweep.
// So a document row never points at a missing object, and no object outlives its row for
// longer than the grace period.
import type { Migration } from '@tms/db'
import { type Kysely, sql, type Transaction } from 'kysely'
import type { DocumentTable, StorageMarkTable } from './document-tables.ts'
import type { AcademicDatabase } from './schema.ts'

type Db = Kysely<AcademicDatabase> | Transaction<AcademicDatabase>

const time = sql`datetime(3)`
const userId = 'varchar(64)'
const key = 'char(36)'

/** academic_0002_documents: the documents, their intents and tombstones, a browse index. */
export const documentsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // The browse's default order (newest first) among the profiles of a status; the rate order
    // has tutor_profiles_status_rate (academic_0001).
    await db.schema
      .createIndex('tutor_profiles_status_id')
      .on('tutor_profiles')
      .columns(['status', 'id'])
      .execute()
    await db.schema
      .createTable('tutor_documents')
      .addColumn('id', 'char(36)', (c) => c.primaryKey())
      .addColumn('profile_id', 'char(36)', (c) => c.notNull().references('tutor_profiles.id'))
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('storage_key', key, (c) => c.notNull().unique())
      .addColumn('filename', 'varchar(255)', (c) => c.notNull())
      .addColumn('content_type', 'varchar(64)', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('sha256', 'char(64)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('review_note', 'varchar(1000)')
      .addColumn('reviewed_by', userId)
      .addColumn('reviewed_at', time)
      .addColumn('created_at', time, (c) => c.notNull())
      .addColumn('updated_at', time, (c) => c.notNull())
      .execute()
    // A profile's documents, in upload order (ids are time-ordered).
    await db.schema
      .createIndex('tutor_documents_profile')
      .on('tutor_documents')
      .columns(['profile_id', 'id'])
      .execute()
    for (const table of ['document_intents', 'document_tombstones']) {
      await db.schema
        .createTable(table)
        .addColumn('storage_key', key, (c) => c.primaryKey())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute()
      // No index on created_at: the sweep reads these small tables by primary key, so that
      // replicas' batches lock clustered rows only and never deadlock on a secondary index.
    }
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['document_tombstones', 'document_intents', 'tutor_documents']) {
      await db.schema.dropTable(table).ifExists().execute()
    }
    await db.schema.dropIndex('tutor_profiles_status_id').on('tutor_profiles').execute()
  },
}

/** A profile's documents, oldest first. */
export function documentsOf(db: Db, profileId: string): Promise<DocumentTable[]> {
  return db
    .selectFrom('tutor_documents')
    .selectAll()
    .where('profile_id', '=', profileId)
    .orderBy('id')
    .execute()
}

/** The documents of several profiles, oldest first. */
export async function documentsOfProfiles(
  db: Db,
  profileIds: readonly string[],
): Promise<DocumentTable[]> {
  if (profileIds.length === 0) return []
  return db
    .selectFrom('tutor_documents')
    .selectAll()
    .where('profile_id', 'in', profileIds)
    .orderBy('profile_id')
    .orderBy('id')
    .execute()
}

export function findDocument(
  db: Db,
  profileId: string,
  documentId: string,
): Promise<DocumentTable | undefined> {
  return db
    .selectFrom('tutor_documents')
    .selectAll()
    .where('id', '=', documentId)
    .where('profile_id', '=', profileId)
    .executeTakeFirst()
}

type MarkTable = 'document_intents' | 'document_tombstones'

/** Records marks of the keys (intents before writing, tombstones with a deletion). */
export async function mark(db: Db, table: MarkTable, keys: readonly string[], now: Date) {
  if (keys.length === 0) return
  await db
    .insertInto(table)
    .values(keys.map((storage_key) => ({ storage_key, created_at: now })))
    .execute()
}

/**
 * Deletes the marks of the keys; how many there were. One key at a time: a point delete locks
 * its own row only, where an IN list may be run as a scan that waits on rows another replica's
 * sweep holds (and deadlocks with it).
 */
export async function unmark(db: Db, table: MarkTable, keys: readonly string[]): Promise<number> {
  let deleted = 0
  for (const key of keys) {
    const result = await db.deleteFrom(table).where('storage_key', '=', key).executeTakeFirst()
    deleted += Number(result.numDeletedRows)
  }
  return deleted
}

/**
 * Marks older than `before`, oldest first, locked for this transaction; rows another replica
 * holds are skipped (SKIP LOCKED: MariaDB 10.6+ and MySQL 8.0+), so replicas share the work.
 */
export function lockStaleMarks(
  trx: Transaction<AcademicDatabase>,
  table: MarkTable,
  before: Date,
  limit: number,
): Promise<StorageMarkTable[]> {
  return (
    trx
      .selectFrom(table)
      .selectAll()
      .where('created_at', '<', before)
      // Keys are time-ordered (UUIDv7): the oldest first.
      .orderBy('storage_key')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute()
  )
}

/** Records a profile's documents (their objects are stored already, under intents). */
export async function insertDocuments(
  db: Db,
  profileId: string,
  documents: DocumentTable[],
): Promise<void> {
  if (documents.length === 0) return
  for (const document of documents) document.profile_id = profileId
  await db.insertInto('tutor_documents').values(documents).execute()
}

/** Deletes document rows; their objects go after the commit, under tombstones (mark). */
export async function deleteDocuments(db: Db, documentIds: readonly string[]): Promise<void> {
  if (documentIds.length === 0) return
  await db.deleteFrom('tutor_documents').where('id', 'in', documentIds).execute()
}

export async function updateDocumentRow(
  db: Db,
  documentId: string,
  changes: Partial<DocumentTable>,
): Promise<void> {
  await db.updateTable('tutor_documents').set(changes).where('id', '=', documentId).execute()
}
