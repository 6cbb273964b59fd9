// Idempotency-Key claims in the service's own database. A request claims its key in a row of
// its own, committed at once, so a concurrent request with the same key finds it. Its effect
// then runs in a transaction that first locks that row and checks that the claim is still its
// own (the claim token fences off a request whose claim was taken over), and stores the answer
// in the same transaction as the effect: an effect never exists without its stored answer, and
// a request that lost its claim writes nothing. While the effect runs, the row stays locked:
// that lock, not a timer, is how a running request is told from one that died.
import { type Clock, systemClock } from '@tms/clock'
import {
  isDuplicateKey,
  type Kysely,
  mysqlErrno,
  newId,
  sql,
  type TransactionOptions,
  transaction,
} from '@tms/db'
import type { Transaction } from 'kysely'
import type { Migration } from 'kysely/migration'
import {
  decideClaim,
  IDEMPOTENCY_TTL_MS,
  KEY_PATTERN,
  requestHash,
  STALE_CLAIM_MS,
} from './rules.ts'

export interface IdempotencyKeysTable {
  caller: string
  method: string
  path: string
  idem_key: string
  request_hash: string
  /** Changes when a claim is taken over; the effect commits only under its own token. */
  claim_token: string
  claimed_at: Date
  /** Null while the first request runs. */
  status_code: number | null
  /** The answer's JSON body. */
  response: string | null
  created_at: Date
}

export interface IdempotencyTables {
  idempotency_keys: IdempotencyKeysTable
}

/** Merged into a service's own migrations, as the bus's are. */
export const idempotencyMigrations: Record<string, Migration> = {
  idempotency_0001_keys: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('caller', 'varchar(64)', (c) => c.notNull())
        .addColumn('method', 'varchar(8)', (c) => c.notNull())
        .addColumn('path', 'varchar(255)', (c) => c.notNull())
        .addColumn('idem_key', 'varchar(255)', (c) => c.notNull())
        .addColumn('request_hash', 'char(64)', (c) => c.notNull())
        .addColumn('claim_token', 'char(36)', (c) => c.notNull())
        .addColumn('claimed_at', sql`datetime(3)`, (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response', 'text')
        .addColumn('created_at', sql`datetime(3)`, (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['caller', 'method', 'path', 'idem_key'])
        .execute()
      await db.schema
        .createIndex('idempotency_keys_created')
        .on('idempotency_keys')
        .column('created_at')
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('idempotency_keys').execute()
    },
  },
}

/** Who asked for what: a key is scoped to (caller, method, path). */
export interface KeyScope {
  caller: string
  method: string
  /** The resource as the route names it, with decoded parameters (see canonicalPath). */
  path: string
}

export interface IdempotentRequest {
  scope: KeyScope
  /** The Idempotency-Key header; absent or empty means no key. */
  key: string | undefined
  body: unknown
}

/** An HTTP answer as it is stored and replayed: a status and a JSON body. */
export interface Answer {
  status: number
  body: unknown
}

export interface IdempotencyOptions {
  clock?: Clock
  staleClaimMs?: number
  /**
   * How the effect's transaction runs, e.g. `{ isolationLevel: 'read committed' }` for an effect
   * that locks rows and then reads what others committed meanwhile (a booking's overlap check).
   */
  transaction?: TransactionOptions
  /**
   * Test hook: runs after the key was claimed, before the effect's transaction starts - where
   * a request that stalls (a full pool, a pause) can lose its claim to a retry.
   */
  afterClaim?: () => Promise<void>
}

export class IdempotencyError extends Error {}

export class InvalidKeyError extends IdempotencyError {
  override name = 'InvalidKeyError'
}

/** The key was used with another request body. */
export class KeyReusedError extends IdempotencyError {
  override name = 'KeyReusedError'
}

/** A request with the key may still be running. */
export class KeyInProgressError extends IdempotencyError {
  override name = 'KeyInProgressError'
  readonly retryAfterSeconds: number
  constructor(retryAfterMs: number) {
    super('a request with this Idempotency-Key is still in progress')
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
  }
}

/** Another request took this request's claim over; this one did nothing. */
export class ClaimLostError extends IdempotencyError {
  override name = 'ClaimLostError'
}

type Db = Kysely<IdempotencyTables>
type Trx = Transaction<IdempotencyTables>

const keyPattern = new RegExp(KEY_PATTERN)

/** A refusal the effect returned: its writes roll back, its answer is stored. */
class Refusal {
  readonly answer: Answer
  constructor(answer: Answer) {
    this.answer = answer
  }
}

/** The row of one key, as a filter for any query on the table. */
function keyRow(scope: KeyScope, key: string) {
  return { caller: scope.caller, method: scope.method, path: scope.path, idem_key: key }
}

/** MariaDB answers a refused NOWAIT with a lock-wait timeout, MySQL with ER_LOCK_NOWAIT. */
function isLockBusy(err: unknown): boolean {
  const errno = mysqlErrno(err)
  return errno === 1205 || errno === 3572
}

/**
 * Runs `effect` at most once per key. The same key and body again replays the stored answer;
 * another body, or the first request still running, throws. An answer of 400 or more that the
 * effect *returns* is definitive (insufficient funds, say): the effect's writes roll back, the
 * answer is stored and replayed. An error it *throws* stores nothing and frees the key.
 */
export async function runIdempotent<DB extends IdempotencyTables>(
  db: Kysely<DB>,
  request: IdempotentRequest,
  effect: (trx: Transaction<DB>) => Promise<Answer>,
  options: IdempotencyOptions = {},
): Promise<Answer & { replayed: boolean }> {
  if (request.key === undefined || request.key === '') {
    return { ...(await transaction(db, effect, options.transaction)), replayed: false }
  }
  if (!keyPattern.test(request.key)) {
    throw new InvalidKeyError('the Idempotency-Key must be 1 to 255 visible ASCII characters')
  }
  const clock = options.clock ?? systemClock
  const idb = db as unknown as Db
  const { scope, key } = request
  const hash = requestHash(request.body)
  const token = newId()

  const stored = await claim(idb, scope, key, hash, token, clock, options.staleClaimMs)
  if (stored) return { ...stored, replayed: true }
  await options.afterClaim?.()

  try {
    const answer = await transaction(
      db,
      async (trx) => {
        await holdClaim(trx as unknown as Trx, scope, key, token)
        const result = await effect(trx)
        if (result.status >= 400) throw new Refusal(result)
        await saveAnswer(trx as unknown as Trx, scope, key, result)
        return result
      },
      options.transaction,
    )
    return { ...answer, replayed: false }
  } catch (err) {
    if (err instanceof Refusal) {
      await transaction(idb, async (trx) => {
        await holdClaim(trx, scope, key, token)
        await saveAnswer(trx, scope, key, err.answer)
      })
      return { ...err.answer, replayed: false }
    }
    if (!(err instanceof ClaimLostError)) {
      // Free the key for a retry, unless someone else owns it by now.
      await idb
        .deleteFrom('idempotency_keys')
        .where((eb) => eb.and(keyRow(scope, key)))
        .where('claim_token', '=', token)
        .where('status_code', 'is', null)
        .execute()
        .catch(() => {})
    }
    throw err
  }
}

/**
 * Claims the key for `token`. Returns the stored answer when the key was answered before with
 * this body; throws when it is in progress or was used with another body.
 */
async function claim(
  db: Db,
  scope: KeyScope,
  key: string,
  hash: string,
  token: string,
  clock: Clock,
  staleClaimMs = STALE_CLAIM_MS,
): Promise<Answer | undefined> {
  for (let attempt = 0; ; attempt++) {
    if (attempt > 3) throw new Error('the Idempotency-Key could not be claimed: it keeps changing')
    const now = clock.now()
    const fresh = {
      request_hash: hash,
      claim_token: token,
      claimed_at: now,
      status_code: null,
      response: null,
      created_at: now,
    }
    // Look before inserting: inserting a key whose row another transaction holds locked would
    // wait for that lock (the duplicate check takes one), and a running request holds it.
    const seen = await db
      .selectFrom('idempotency_keys')
      .select('claim_token')
      .where((eb) => eb.and(keyRow(scope, key)))
      .executeTakeFirst()
    if (!seen) {
      try {
        await db
          .insertInto('idempotency_keys')
          .values({ ...scope, idem_key: key, ...fresh })
          .execute()
        return undefined
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
      }
    }
    // The key exists: look at it without waiting. A row someone holds locked is a request
    // whose effect is running right now.
    const outcome = await db
      .transaction()
      .execute(async (trx): Promise<Answer | 'claimed' | 'gone'> => {
        let row: Awaited<ReturnType<typeof lockedRow>>
        try {
          row = await lockedRow(trx, scope, key)
        } catch (err) {
          if (isLockBusy(err)) throw new KeyInProgressError(1000)
          throw err
        }
        if (!row) return 'gone'
        const decision = decideClaim(row, hash, now, staleClaimMs)
        switch (decision.kind) {
          case 'replay':
            return { status: row.status_code as number, body: JSON.parse(row.response ?? 'null') }
          case 'reused':
            throw new KeyReusedError('this Idempotency-Key was used with another request body')
          case 'in-progress':
            throw new KeyInProgressError(decision.retryAfterMs)
          case 'take-over':
            await trx
              .updateTable('idempotency_keys')
              .where((eb) => eb.and(keyRow(scope, key)))
              .set(fresh)
              .execute()
            return 'claimed'
        }
      })
    if (outcome === 'claimed') return undefined
    if (outcome !== 'gone') return outcome
    // Deleted since we looked (a failed request freed it): claim again.
  }
}

function lockedRow(trx: Trx, scope: KeyScope, key: string) {
  return trx
    .selectFrom('idempotency_keys')
    .where((eb) => eb.and(keyRow(scope, key)))
    .select(['request_hash', 'status_code', 'response', 'claimed_at', 'created_at'])
    .forUpdate()
    .noWait()
    .executeTakeFirst()
}

/** Locks the claim row for the effect's transaction; throws if the claim is not `token`'s. */
async function holdClaim(trx: Trx, scope: KeyScope, key: string, token: string): Promise<void> {
  const row = await trx
    .selectFrom('idempotency_keys')
    .where((eb) => eb.and(keyRow(scope, key)))
    .select('claim_token')
    .forUpdate()
    .executeTakeFirst()
  if (row?.claim_token !== token) {
    throw new ClaimLostError(
      'another request with this Idempotency-Key took over while this one waited; this one did nothing',
    )
  }
}

async function saveAnswer(trx: Trx, scope: KeyScope, key: string, answer: Answer) {
  await trx
    .updateTable('idempotency_keys')
    .where((eb) => eb.and(keyRow(scope, key)))
    .set({ status_code: answer.status, response: JSON.stringify(answer.body) })
    .execute()
}

/**
 * The hourly purge of keys past their TTL, as a job for the service kit's runner
 * (`{ name, everyMs, run }`) in every service that stores keys. Replica-safe: a batched DELETE
 * of keys no request uses any more; two replicas at once only share the work. After downtime
 * the first run deletes everything overdue.
 */
export function idempotencyPurgeJob(db: Kysely<IdempotencyTables>, clock: Clock = systemClock) {
  return {
    name: 'idempotency-key-purge',
    everyMs: 60 * 60 * 1000,
    run: () => purgeIdempotencyKeys(db, clock),
  }
}

/** Deletes keys past the TTL, in batches; safe to run in several replicas at once. */
export async function purgeIdempotencyKeys(
  db: Kysely<IdempotencyTables>,
  clock: Clock = systemClock,
): Promise<number> {
  const before = new Date(clock.now().getTime() - IDEMPOTENCY_TTL_MS)
  let total = 0
  for (;;) {
    const result = await db
      .deleteFrom('idempotency_keys')
      .where('created_at', '<', before)
      .limit(1000)
      .executeTakeFirst()
    const deleted = Number(result.numDeletedRows)
    total += deleted
    if (deleted < 1000) return total
  }
}
