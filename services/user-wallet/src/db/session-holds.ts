// Every query on `session_hold`: one row per booked session, the saga's state for it.
import type { Transaction } from '@tms/db'
import type { HoldState } from '../domain/booking.ts'
import type { WalletDatabase } from './schema.ts'

type Trx = Transaction<WalletDatabase>

/** The session's hold state, its row locked: two events of one session never interleave. */
export async function lockHold(trx: Trx, sessionId: string): Promise<HoldState | undefined> {
  const row = await trx
    .selectFrom('session_hold')
    .selectAll()
    .where('session_id', '=', sessionId)
    .forUpdate()
    .executeTakeFirst()
  if (!row) return undefined
  return {
    status: row.status,
    studentId: row.student_id,
    revision: row.revision,
    amount: Number(row.amount),
  }
}

export async function saveHold(
  trx: Trx,
  sessionId: string,
  exists: boolean,
  state: HoldState,
  now: Date,
): Promise<void> {
  const row = {
    student_id: state.studentId,
    revision: state.revision,
    amount: state.amount,
    status: state.status,
    updated_at: now,
  }
  if (exists) {
    await trx.updateTable('session_hold').set(row).where('session_id', '=', sessionId).execute()
  } else {
    // A concurrent first event of the same session makes this a duplicate key: the bus's
    // transaction then fails and the event is retried, finding the row.
    await trx
      .insertInto('session_hold')
      .values({ session_id: sessionId, ...row })
      .execute()
  }
}
