// The outbox and inbox tables, created in each service's own database by its own migrations
// (a service merges busMigrations into its own).
import { type Generated, type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'

export interface OutboxTable {
  seq: Generated<number>
  id: string
  type: string
  /** The whole envelope as JSON text (MariaDB hands JSON columns back as strings anyway). */
  envelope: string
  created_at: Date
  published_at: Date | null
}

export interface InboxTable {
  consumer: string
  event_id: string
  handled_at: Date
}

export interface BusTables {
  bus_outbox: OutboxTable
  bus_inbox: InboxTable
}

export const busMigrations: Record<string, Migration> = {
  bus_0001_outbox_inbox: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('bus_outbox')
        .addColumn('seq', 'bigint', (c) => c.autoIncrement().primaryKey())
        .addColumn('id', 'char(36)', (c) => c.notNull().unique())
        .addColumn('type', 'varchar(100)', (c) => c.notNull())
        .addColumn('envelope', 'text', (c) => c.notNull())
        .addColumn('created_at', sql`datetime(3)`, (c) => c.notNull())
        .addColumn('published_at', sql`datetime(3)`)
        .execute()
      // The relay reads unpublished rows in order; the purge deletes old published ones.
      await db.schema
        .createIndex('bus_outbox_pending')
        .on('bus_outbox')
        .columns(['published_at', 'seq'])
        .execute()
      await db.schema
        .createTable('bus_inbox')
        .addColumn('consumer', 'varchar(100)', (c) => c.notNull())
        .addColumn('event_id', 'char(36)', (c) => c.notNull())
        .addColumn('handled_at', sql`datetime(3)`, (c) => c.notNull())
        .addPrimaryKeyConstraint('bus_inbox_pk', ['consumer', 'event_id'])
        .execute()
      await db.schema
        .createIndex('bus_inbox_handled_at')
        .on('bus_inbox')
        .column('handled_at')
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('bus_inbox').execute()
      await db.schema.dropTable('bus_outbox').execute()
    },
  },
}
