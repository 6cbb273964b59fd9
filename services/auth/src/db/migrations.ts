import { busMigrations } from '@tms/bus'
import type { Migrations } from '@tms/db'
import { type Kysely, sql } from 'kysely'

const time = sql`datetime(3)`

export const migrations: Migrations = {
  ...busMigrations,
  auth_0001_initial: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'char(36)', (c) => c.primaryKey())
        .addColumn('username', 'varchar(32)', (c) => c.notNull().unique())
        .addColumn('email', 'varchar(254)', (c) => c.notNull().unique())
        .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('name', 'varchar(200)')
        .addColumn('phone', 'varchar(32)')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute()

      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'char(36)', (c) => c.primaryKey())
        .addColumn('token_hash', 'char(64)', (c) => c.notNull().unique())
        .addColumn('user_id', 'char(36)', (c) =>
          c.notNull().references('users.id').onDelete('cascade'),
        )
        .addColumn('family_id', 'char(36)', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('spent_at', time)
        .addColumn('revoked_at', time)
        .execute()
      await db.schema
        .createIndex('refresh_tokens_family')
        .on('refresh_tokens')
        .column('family_id')
        .execute()
      await db.schema
        .createIndex('refresh_tokens_user')
        .on('refresh_tokens')
        .column('user_id')
        .execute()

      await db.schema
        .createTable('password_reset_otps')
        .addColumn('user_id', 'char(36)', (c) =>
          c.primaryKey().references('users.id').onDelete('cascade'),
        )
        .addColumn('code_hash', 'char(64)', (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', time, (c) => c.notNull())
        .execute()

      await db.schema
        .createTable('mail_outbox')
        .addColumn('seq', 'bigint', (c) => c.autoIncrement().primaryKey())
        .addColumn('id', 'char(36)', (c) => c.notNull().unique())
        .addColumn('recipient', 'varchar(254)', (c) => c.notNull())
        .addColumn('subject', 'varchar(200)', (c) => c.notNull())
        .addColumn('body', 'text')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('next_attempt_at', time, (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'varchar(500)')
        .addColumn('sent_at', time)
        .execute()
      await db.schema
        .createIndex('mail_outbox_due')
        .on('mail_outbox')
        .columns(['sent_at', 'next_attempt_at'])
        .execute()
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['mail_outbox', 'password_reset_otps', 'refresh_tokens', 'users']) {
        await db.schema.dropTable(table).ifExists().execute()
      }
    },
  },
}
