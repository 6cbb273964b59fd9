// The mail job's run: sends the messages that are due, each claimed first so that several
// replicas never send one twice; a failure is retried later with growing delays.
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { Logger } from '@tms/logging'
import { claimMail, dueMail, markMailFailed, markMailSent } from '../db/mail.ts'
import type { AuthDatabase } from '../db/schema.ts'
import type { MailTransport } from '../mail.ts'

export interface MailDeps {
  db: Kysely<AuthDatabase>
  transport: MailTransport
  clock: Clock
  logger: Logger
  /** Messages per run. */
  batchSize?: number
  /** How long a claimed message stays claimed while it is being sent. */
  claimMs?: number
}

const MAX_BACKOFF_MS = 60 * 60 * 1000

/** Sends the messages that are due; returns how many were sent. */
export async function sendDueMail(deps: MailDeps): Promise<number> {
  const { db, clock, logger } = deps
  const now = clock.now()
  let sent = 0
  for (const mail of await dueMail(db, now, deps.batchSize ?? 20)) {
    const claimed = await claimMail(db, mail, new Date(now.getTime() + (deps.claimMs ?? 60_000)))
    if (!claimed || mail.body === null) continue
    try {
      await deps.transport.send({ to: mail.recipient, subject: mail.subject, text: mail.body })
      await markMailSent(db, mail.id, clock.now())
      sent++
    } catch (err) {
      const attempts = mail.attempts + 1
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts)
      logger.warn({ err, mail_id: mail.id, attempts }, 'mail not sent; will retry')
      await markMailFailed(db, mail.id, {
        attempts,
        error: String((err as Error).message ?? err),
        nextAttemptAt: new Date(clock.now().getTime() + backoff),
      })
    }
  }
  return sent
}
