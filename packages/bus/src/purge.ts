// Housekeeping: published outbox rows and inbox records older than their retention are deleted,
// in batches so a large backlog never holds locks on the whole table at once. Unpublished rows
// are never deleted.
import type { Kysely } from 'kysely'
import type { BusTables } from './migrations.ts'

const DAY = 24 * 60 * 60 * 1000
const PURGE_BATCH = 1000

export interface Retention {
  /** Published outbox rows older than this are deleted (7 days by default). */
  outboxMs?: number
  /** Inbox records older than this are deleted (30 days by default); it must exceed the longest
   * time a message can be redelivered (the retry delays plus broker outages). */
  inboxMs?: number
}

export async function purgeOld(
  db: Kysely<BusTables>,
  retention: Retention,
  now: Date,
): Promise<{ outbox: number; inbox: number }> {
  const outboxBefore = new Date(now.getTime() - (retention.outboxMs ?? 7 * DAY))
  const inboxBefore = new Date(now.getTime() - (retention.inboxMs ?? 30 * DAY))
  const inBatches = async (remove: () => Promise<{ numDeletedRows: bigint }>) => {
    let total = 0
    for (;;) {
      const deleted = Number((await remove()).numDeletedRows)
      total += deleted
      if (deleted < PURGE_BATCH) return total
    }
  }
  const outbox = await inBatches(() =>
    db
      .deleteFrom('bus_outbox')
      .where('published_at', '<', outboxBefore)
      .limit(PURGE_BATCH)
      .executeTakeFirst(),
  )
  const inbox = await inBatches(() =>
    db
      .deleteFrom('bus_inbox')
      .where('handled_at', '<', inboxBefore)
      .limit(PURGE_BATCH)
      .executeTakeFirst(),
  )
  return { outbox, inbox }
}
