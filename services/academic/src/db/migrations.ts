import { busMigrations } from '@tms/bus'
import type { Migrations } from '@tms/db'
import { idempotencyMigrations } from '@tms/idempotency'
import { type Kysely, sql } from 'kysely'
import { documentsMigration } from './documents.ts'
import { sessionsMigration } from './sessions-tables.ts'

const time = sql`datetime(3)`
const userId = 'varchar(64)'

export const migrations: Migrations = {
  ...busMigrations,
  ...idempotencyMigrations,
  academic_0001_users_profiles: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('user_id', userId, (c) => c.primaryKey())
        .addColumn('username', 'varchar(32)', (c) => c.notNull())
        .addColumn('name', 'varchar(200)')
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute()

      await db.schema
        .createTable('tutor_profiles')
        .addColumn('id', 'char(36)', (c) => c.primaryKey())
        .addColumn('user_id', userId, (c) => c.notNull().unique())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('bio', 'text', (c) => c.notNull())
        .addColumn('hourly_rate', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'char(3)', (c) => c.notNull())
        .addColumn('review_note', 'varchar(1000)')
        .addColumn('reviewed_by', userId)
        .addColumn('reviewed_at', time)
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute()
      // Browsing: approved profiles by rate, paged by (rate, id).
      await db.schema
        .createIndex('tutor_profiles_status_rate')
        .on('tutor_profiles')
        .columns(['status', 'hourly_rate', 'id'])
        .execute()

      await db.schema
        .createTable('tutor_subjects')
        .addColumn('profile_id', 'char(36)', (c) =>
          c.notNull().references('tutor_profiles.id').onDelete('cascade'),
        )
        .addColumn('subject', 'varchar(64)', (c) => c.notNull())
        .addPrimaryKeyConstraint('tutor_subjects_pk', ['profile_id', 'subject'])
        .execute()
      // The subject filter: from a subject to its profiles.
      await db.schema
        .createIndex('tutor_subjects_subject')
        .on('tutor_subjects')
        .columns(['subject', 'profile_id'])
        .execute()
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['tutor_subjects', 'tutor_profiles', 'users']) {
        await db.schema.dropTable(table).ifExists().execute()
      }
    },
  },
  academic_0002_documents: documentsMigration,
  academic_0003_sessions: sessionsMigration,
}
