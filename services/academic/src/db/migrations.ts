// TEMPORARY until the lead's shell lands (its academic_0001 replaces the stub below).
import { busMigrations } from '@tms/bus'
import type { Migrations } from '@tms/db'
import { idempotencyMigrations } from '@tms/idempotency'
import { type Kysely, sql } from 'kysely'
import { sessionsMigration } from './sessions.ts'

export const migrations: Migrations = {
  ...busMigrations,
  ...idempotencyMigrations,
  academic_0001_users_profiles: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('user_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('username', 'varchar(32)', (c) => c.notNull())
        .addColumn('name', 'varchar(200)')
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('updated_at', sql`datetime(3)`, (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('tutor_profiles')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('bio', 'text', (c) => c.notNull())
        .addColumn('hourly_rate', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'char(3)', (c) => c.notNull())
        .addColumn('review_note', 'varchar(500)')
        .addColumn('reviewed_by', 'varchar(64)')
        .addColumn('reviewed_at', sql`datetime(3)`)
        .addColumn('created_at', sql`datetime(3)`, (c) => c.notNull())
        .addColumn('updated_at', sql`datetime(3)`, (c) => c.notNull())
        .execute()
    },
  },
  academic_0003_sessions: sessionsMigration,
}
