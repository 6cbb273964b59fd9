import { busMigrations } from '@tms/bus'
import type { Migrations } from '@tms/db'
import { idempotencyMigrations } from '@tms/idempotency'
import { type Kysely, sql } from 'kysely'

const time = sql`datetime(3)`
const id = 'varchar(64)'

/** The two system accounts have fixed ids; every user's two accounts get generated ones. */
export const PLATFORM_ACCOUNT_ID = 'platform'
export const EXTERNAL_ACCOUNT_ID = 'external'

/**
 * The platform account's sub-accounts (db/ledger.ts): `platform` itself and 15 more, so that
 * up to 16 captures at once each credit one without waiting for another. Their ids sort
 * together and after every other account's (generated ids are hex), so one range of the
 * primary key finds them all.
 */
export const PLATFORM_ACCOUNT_IDS: readonly string[] = [
  PLATFORM_ACCOUNT_ID,
  ...Array.from(
    { length: 15 },
    (_, i) => `${PLATFORM_ACCOUNT_ID}.${String(i + 1).padStart(2, '0')}`,
  ),
]

export const migrations: Migrations = {
  ...busMigrations,
  ...idempotencyMigrations,
  wallet_0001_initial: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('profile')
        .addColumn('user_id', id, (c) => c.primaryKey())
        .addColumn('username', 'varchar(32)', (c) => c.notNull().unique())
        .addColumn('email', 'varchar(254)', (c) => c.notNull())
        .addColumn('name', 'varchar(200)')
        .addColumn('phone', 'varchar(32)')
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute()
      // Not unique: auth owns uniqueness, and an email change of one user may arrive after
      // another user registered with the old address; a unique index would stall the events.
      await db.schema.createIndex('profile_email').on('profile').column('email').execute()

      await db.schema
        .createTable('account')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('user_id', id)
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0))
        .addUniqueConstraint('account_user_kind', ['user_id', 'kind'])
        .execute()
      await sql`INSERT INTO account (id, user_id, kind, balance) VALUES
        (${PLATFORM_ACCOUNT_ID}, NULL, 'platform', 0),
        (${EXTERNAL_ACCOUNT_ID}, NULL, 'external', 0)`.execute(db)

      await db.schema
        .createTable('ledger_transaction')
        .addColumn('id', 'char(36)', (c) => c.primaryKey())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('session_id', id)
        .addColumn('actor_id', id)
        .addColumn('reason', 'varchar(500)')
        .addColumn('reference', 'varchar(200)')
        .addColumn('created_at', time, (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex('ledger_transaction_session')
        .on('ledger_transaction')
        .column('session_id')
        .execute()

      await db.schema
        .createTable('entry')
        .addColumn('id', 'char(36)', (c) => c.primaryKey())
        .addColumn('transaction_id', 'char(36)', (c) =>
          c.notNull().references('ledger_transaction.id'),
        )
        .addColumn('account_id', id, (c) => c.notNull().references('account.id'))
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .execute()
      // A wallet's history, newest first, is read by account and id (ids are time-ordered).
      await db.schema
        .createIndex('entry_account_id')
        .on('entry')
        .columns(['account_id', 'id'])
        .execute()

      await db.schema
        .createTable('idempotency_key')
        .addColumn('caller', id, (c) => c.notNull())
        .addColumn('method', 'varchar(8)', (c) => c.notNull())
        .addColumn('path', 'varchar(255)', (c) => c.notNull())
        .addColumn('idem_key', 'varchar(255)', (c) => c.notNull())
        .addColumn('request_hash', 'char(64)', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response', 'text')
        .addColumn('created_at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_key_pk', ['caller', 'method', 'path', 'idem_key'])
        .execute()
      await db.schema
        .createIndex('idempotency_key_created')
        .on('idempotency_key')
        .column('created_at')
        .execute()

      await db.schema
        .createTable('session_hold')
        .addColumn('session_id', id, (c) => c.primaryKey())
        .addColumn('student_id', id)
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute()
    },
    async down(db: Kysely<unknown>) {
      for (const table of [
        'session_hold',
        'idempotency_key',
        'entry',
        'ledger_transaction',
        'account',
        'profile',
      ]) {
        await db.schema.dropTable(table).ifExists().execute()
      }
    },
  },
  wallet_0002_shared_idempotency_keys: {
    // Idempotency-Key claims moved to @tms/idempotency's `idempotency_keys` (fenced claims,
    // stored refusals); the old table held only 24 hours of replays.
    async up(db: Kysely<unknown>) {
      await db.schema.dropTable('idempotency_key').ifExists().execute()
    },
    async down() {},
  },
  wallet_0003_platform_sub_accounts: {
    // The platform account spread over sub-accounts (db/ledger.ts), so captures do not queue
    // behind each other on one row. Each starts at 0: what `platform` holds stays there.
    async up(db: Kysely<unknown>) {
      const extra = PLATFORM_ACCOUNT_IDS.filter((id) => id !== PLATFORM_ACCOUNT_ID)
      await sql`INSERT INTO account (id, user_id, kind, balance) VALUES ${sql.join(
        extra.map((id) => sql`(${id}, NULL, 'platform', 0)`),
      )}`.execute(db)
    },
    async down(db: Kysely<unknown>) {
      // Only while they hold nothing: their entries would otherwise lose their account.
      const extra = PLATFORM_ACCOUNT_IDS.filter((id) => id !== PLATFORM_ACCOUNT_ID)
      await sql`DELETE FROM account WHERE id IN (${sql.join(extra)})
        AND id NOT IN (SELECT account_id FROM entry)`.execute(db)
    },
  },
}
