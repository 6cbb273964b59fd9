// Every query on `mail_outbox`: mail is written in its cause's transaction and sent by the mail
// job (use-cases/mail.ts), which claims each message before sending it.
import { type Kysely, newId, type Transaction } from '@tms/db'
import type { AuthDatabase, MailOutboxTable } from './schema.ts'

export interface MailMessage {
  to: string
  subject: string
  text: string
}

export async function enqueueMail(
  trx: Transaction<AuthDatabase>,
  message: MailMessage,
  now: Date,
): Promise<void> {
  await trx
    .insertInto('mail_outbox')
    .values({
      id: newId(),
      recipient: message.to,
      subject: message.subject,
      body: message.text,
      created_at: now,
      next_attempt_at: now,
      attempts: 0,
      last_error: null,
      sent_at: null,
    })
    .execute()
}

export type DueMail = Pick<
  MailOutboxTable,
  'id' | 'recipient' | 'subject' | 'body' | 'next_attempt_at' | 'attempts'
>

export function dueMail(db: Kysely<AuthDatabase>, now: Date, limit: number): Promise<DueMail[]> {
  return db
    .selectFrom('mail_outbox')
    .select(['id', 'recipient', 'subject', 'body', 'next_attempt_at', 'attempts'])
    .where('sent_at', 'is', null)
    .where('next_attempt_at', '<=', now)
    .orderBy('seq')
    .limit(limit)
    .execute()
}

/**
 * Claims a message until `until` by moving its next attempt, only if nobody moved it since it
 * was read: of several replicas that read it, one claims it. Returns whether this one did.
 */
export async function claimMail(
  db: Kysely<AuthDatabase>,
  mail: DueMail,
  until: Date,
): Promise<boolean> {
  const claim = await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: until })
    .where('id', '=', mail.id)
    .where('sent_at', 'is', null)
    .where('next_attempt_at', '=', mail.next_attempt_at)
    .executeTakeFirst()
  return Number(claim.numUpdatedRows) === 1
}

/** Sent: the body (which may hold a one-time code) is erased. */
export async function markMailSent(db: Kysely<AuthDatabase>, id: string, now: Date) {
  await db
    .updateTable('mail_outbox')
    .set({ sent_at: now, body: null, last_error: null })
    .where('id', '=', id)
    .execute()
}

export async function markMailFailed(
  db: Kysely<AuthDatabase>,
  id: string,
  failure: { attempts: number; error: string; nextAttemptAt: Date },
) {
  await db
    .updateTable('mail_outbox')
    .set({
      attempts: failure.attempts,
      last_error: failure.error.slice(0, 500),
      next_attempt_at: failure.nextAttemptAt,
    })
    .where('id', '=', id)
    .execute()
}
