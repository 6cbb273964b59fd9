// The SPEC's Idempotency-Key for money-moving POSTs: the key is claimed in a row of its own
// (committed at once, so a concurrent request with the same key sees it and gets 409), and the
// answer is stored in the same transaction as the effect, so an effect never exists without
// its stored answer.
import { isDuplicateKey, type Kysely, type Transaction, transaction } from '@tms/db'
import { httpError } from '@tms/http'
import type { WalletDatabase } from './db/schema.ts'
import { decideExisting, requestHash } from './domain/idempotency.ts'

export interface Answer {
  status: number
  body: unknown
}

export interface IdempotentRequest {
  caller: string
  method: string
  path: string
  /** The Idempotency-Key header, if sent. */
  key: string | undefined
  body: unknown
}

const keyPattern = /^[\x21-\x7e]{1,255}$/

/**
 * Runs `effect` in a transaction (retried on deadlocks) at most once per key: the same key
 * and body again replays the stored answer; another body, or the first still running, is 409.
 * A request that fails stores nothing, so the key may be used again.
 */
export async function runIdempotent(
  db: Kysely<WalletDatabase>,
  request: IdempotentRequest,
  effect: (trx: Transaction<WalletDatabase>) => Promise<Answer>,
  now: () => Date = () => new Date(),
): Promise<Answer & { replayed: boolean }> {
  if (request.key === undefined || request.key === '') {
    return { ...(await transaction(db, effect)), replayed: false }
  }
  if (!keyPattern.test(request.key)) {
    throw httpError(400, 'the Idempotency-Key header must be 1 to 255 visible ASCII characters', {
      errors: [{ field: 'Idempotency-Key', message: 'is not valid' }],
    })
  }
  const pk = {
    caller: request.caller,
    method: request.method,
    path: request.path,
    idem_key: request.key,
  }
  const hash = requestHash(request.body)

  for (let attempt = 0; ; attempt++) {
    try {
      await db
        .insertInto('idempotency_key')
        .values({
          ...pk,
          request_hash: hash,
          status_code: null,
          response: null,
          created_at: now(),
        })
        .execute()
      break
    } catch (err) {
      if (!isDuplicateKey(err) || attempt >= 3) throw err
    }
    const stored = await db
      .selectFrom('idempotency_key')
      .selectAll()
      .where('caller', '=', pk.caller)
      .where('method', '=', pk.method)
      .where('path', '=', pk.path)
      .where('idem_key', '=', pk.idem_key)
      .executeTakeFirst()
    if (!stored) continue
    const decision = decideExisting(stored, hash, now())
    if (decision.kind === 'conflict') throw httpError(409, decision.detail)
    if (decision.kind === 'replay') {
      return {
        status: stored.status_code as number,
        body: JSON.parse(stored.response ?? 'null'),
        replayed: true,
      }
    }
    // Expired, or abandoned by a process that died: remove exactly that row and claim again.
    await db
      .deleteFrom('idempotency_key')
      .where('caller', '=', pk.caller)
      .where('method', '=', pk.method)
      .where('path', '=', pk.path)
      .where('idem_key', '=', pk.idem_key)
      .where('created_at', '=', stored.created_at)
      .execute()
  }

  try {
    const answer = await transaction(db, async (trx) => {
      const result = await effect(trx)
      await trx
        .updateTable('idempotency_key')
        .set({ status_code: result.status, response: JSON.stringify(result.body) })
        .where('caller', '=', pk.caller)
        .where('method', '=', pk.method)
        .where('path', '=', pk.path)
        .where('idem_key', '=', pk.idem_key)
        .execute()
      return result
    })
    return { ...answer, replayed: false }
  } catch (err) {
    await db
      .deleteFrom('idempotency_key')
      .where('caller', '=', pk.caller)
      .where('method', '=', pk.method)
      .where('path', '=', pk.path)
      .where('idem_key', '=', pk.idem_key)
      .where('status_code', 'is', null)
      .execute()
      .catch(() => {})
    throw err
  }
}

/** Deletes keys older than 24 hours. */
export async function purgeIdempotencyKeys(db: Kysely<WalletDatabase>, before: Date) {
  const result = await db
    .deleteFrom('idempotency_key')
    .where('created_at', '<', before)
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}
