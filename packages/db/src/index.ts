// One way for every service to reach its own MySQL database: a Kysely MySQL dialect over a
// mysql2 pool, the creation of the database, migrations, and transactions that retry deadlocks.
import { setTimeout as sleep } from 'node:timers/promises'
import { CompiledQuery, Kysely, MysqlDialect, type Transaction } from 'kysely'
import { type Migration, type MigrationResultSet, Migrator } from 'kysely/migration'
import { createConnection, createPool } from 'mysql2'
import { createConnection as createPromiseConnection } from 'mysql2/promise'
import { v7 as uuidv7 } from 'uuid'

export { Kysely, sql } from 'kysely'
export type { Migration, Transaction }

/** Time-ordered ids: unique without coordination, and index-friendly as primary keys. */
export function newId(): string {
  return uuidv7()
}

export interface DbOptions {
  /** Connections in the pool. */
  poolSize?: number
}

/**
 * A Kysely instance for a `mysql://user:pass@host:port/database` URL. Every connection runs
 * in UTC and utf8mb4; dates come back as JS Dates in UTC.
 */
export function createDb<DB>(url: string, options: DbOptions = {}): Kysely<DB> {
  const pool = createPool({
    uri: url,
    connectionLimit: options.poolSize ?? 10,
    timezone: 'Z',
    charset: 'utf8mb4_bin',
    supportBigNumbers: true,
    // DECIMAL sums (balances) come back as numbers; money is kept far below 2^53.
    decimalNumbers: true,
    enableKeepAlive: true,
  })
  return new Kysely<DB>({
    dialect: new MysqlDialect({
      pool,
      controlConnection: createConnection,
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw("SET time_zone = '+00:00'"))
      },
    }),
  })
}

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) {
    throw new Error(`database name must be 1-64 letters, digits or underscores, got "${name}"`)
  }
  return name
}

function serverUrl(url: string): string {
  const u = new URL(url)
  u.pathname = '/'
  return u.toString()
}

/**
 * Creates the service's own database if it is missing. Its default collation is binary, so
 * unique text compares the same on MariaDB and MySQL 8.4.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url)
  const conn = await createPromiseConnection({ uri: serverUrl(url) })
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    )
  } finally {
    await conn.end()
  }
}

/** Drops a database; for tests and tooling only. */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url)
  const conn = await createPromiseConnection({ uri: serverUrl(url) })
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
  } finally {
    await conn.end()
  }
}

export type Migrations = Record<string, Migration>

function migrator(db: Kysely<unknown>, migrations: Migrations): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Shared packages (the bus's outbox and inbox) bring migrations of their own, which may
    // land after a service's newer ones.
    allowUnorderedMigrations: true,
  })
}

function check(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName
    throw new Error(`migration ${failed ?? ''} failed: ${String(result.error)}`, {
      cause: result.error,
    })
  }
  return (result.results ?? []).map((r) => `${r.direction} ${r.migrationName}`)
}

/** Runs every pending migration; returns what ran. Throws if one fails. */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  migrations: Migrations,
): Promise<string[]> {
  return check(await migrator(db as Kysely<unknown>, migrations).migrateToLatest())
}

/** The database server could not be reached at start-up within the allowed time. */
export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError'
}

/** Errors that mean "not there yet" (a server starting or restarting), worth waiting out. */
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
])

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err)
}

export interface StartupLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface OpenOptions extends DbOptions {
  /** How long to wait for an unreachable server before giving up (default 60 s). */
  connectTimeoutMs?: number
}

/**
 * Waits until the server at `url` accepts a connection, retrying with growing delays and one
 * log line per attempt; throws DatabaseUnreachableError with a one-line reason after
 * `timeoutMs`. Errors that waiting cannot cure (a refused password, say) are thrown at once.
 */
export async function waitForDatabase(
  url: string,
  timeoutMs = 60_000,
  logger?: StartupLogger,
): Promise<void> {
  const { host, port } = new URL(url)
  const where = `${host}${port ? '' : ':3306'}`
  const started = performance.now()
  let delay = 250
  for (let attempt = 1; ; attempt++) {
    try {
      const conn = await createPromiseConnection({ uri: serverUrl(url), connectTimeout: 5000 })
      await conn.end()
      if (attempt > 1) logger?.info({ attempts: attempt }, `database at ${where} reachable`)
      return
    } catch (err) {
      const code = errorCode(err)
      if (!unreachableCodes.has(code)) throw err
      const waited = performance.now() - started
      if (waited + delay > timeoutMs) {
        throw new DatabaseUnreachableError(
          `the database at ${where} could not be reached within ${timeoutMs / 1000} s (${code}, ${attempt} attempts)`,
          { cause: err },
        )
      }
      logger?.warn(
        { attempt, code, retry_in_ms: delay },
        `database at ${where} not reachable (${code}); attempt ${attempt}, retrying in ${delay} ms`,
      )
      await sleep(delay)
      delay = Math.min(delay * 2, 5000)
    }
  }
}

/**
 * What a service does at start-up: waits for the server (see waitForDatabase), creates its
 * database when missing, connects, and runs the pending migrations, logging each.
 */
export async function openDatabase<DB>(
  url: string,
  migrations: Migrations,
  logger?: StartupLogger,
  options: OpenOptions = {},
): Promise<Kysely<DB>> {
  await waitForDatabase(url, options.connectTimeoutMs, logger)
  await ensureDatabase(url)
  const db = createDb<DB>(url, options)
  try {
    for (const step of await migrateToLatest(db, migrations)) logger?.info({ step }, 'migrated')
  } catch (err) {
    await db.destroy()
    throw err
  }
  return db
}

/**
 * The migration command every service exposes (`pnpm migrate [latest|down|status]`):
 * creates the database when missing, then acts and prints what it did.
 */
export async function runMigrationCommand(
  url: string,
  migrations: Migrations,
  argv: string[] = process.argv.slice(2),
): Promise<void> {
  const action = argv[0] ?? 'latest'
  await ensureDatabase(url)
  const db = createDb<unknown>(url, { poolSize: 1 })
  try {
    const m = migrator(db, migrations)
    if (action === 'latest') {
      const done = check(await m.migrateToLatest())
      console.log(done.length ? done.join('\n') : 'already at the latest migration')
    } else if (action === 'down') {
      console.log(check(await m.migrateDown()).join('\n') || 'nothing to undo')
    } else if (action === 'status') {
      for (const info of await m.getMigrations()) {
        console.log(
          `${info.executedAt ? info.executedAt.toISOString() : 'pending'.padEnd(24)}  ${info.name}`,
        )
      }
    } else {
      throw new Error(`unknown migration action "${action}": use latest, down or status`)
    }
  } finally {
    await db.destroy()
  }
}

/** The MySQL error number of a driver error, if it is one. */
export function mysqlErrno(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno
  return typeof errno === 'number' ? errno : undefined
}

export function isDuplicateKey(err: unknown): boolean {
  return mysqlErrno(err) === 1062
}

/**
 * Deadlock (1213), lock wait timeout (1205) and MariaDB's "record has changed since last
 * read" (1020): the transaction was rolled back or can be, and running it again is correct.
 */
export function isTransient(err: unknown): boolean {
  const errno = mysqlErrno(err)
  return errno === 1213 || errno === 1205 || errno === 1020
}

export interface TransactionOptions {
  /** How many times a transient failure is retried before it is thrown. */
  retries?: number
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable'
}

const afterCommit = new WeakMap<object, (() => void)[]>()

/**
 * Runs callback once trx has committed (never if it rolls back), e.g. to wake the outbox relay.
 * Returns false when trx was not made by transaction() below, which alone knows of the commit.
 */
export function onCommit(trx: object, callback: () => void): boolean {
  const callbacks = afterCommit.get(trx)
  callbacks?.push(callback)
  return callbacks !== undefined
}

/**
 * Runs fn in a transaction; when the database answers with a deadlock or a lock wait timeout,
 * runs it again from the start (fn must not have effects outside the transaction), so callers
 * never see those as errors.
 */
export async function transaction<DB, T>(
  db: Kysely<DB>,
  fn: (trx: Transaction<DB>) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 8
  for (let attempt = 0; ; attempt++) {
    // Fresh for every attempt: what a rolled-back attempt registered must not run.
    const committed: (() => void)[] = []
    try {
      let builder = db.transaction()
      if (options.isolationLevel) builder = builder.setIsolationLevel(options.isolationLevel)
      const result = await builder.execute((trx) => {
        afterCommit.set(trx, committed)
        return fn(trx)
      })
      for (const callback of committed) callback()
      return result
    } catch (err) {
      if (!isTransient(err) || attempt >= retries) throw err
      // Jittered exponential backoff so the contenders do not collide again in lockstep.
      await sleep(Math.random() * 5 * 2 ** Math.min(attempt, 6))
    }
  }
}
