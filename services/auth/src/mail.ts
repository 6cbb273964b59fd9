// Mail leaves through an outbox: the message is written in the same transaction as its cause
// (a reset code, an email change), and a background sender delivers it, by SMTP when SMTP_URL
// is set, else as one file per message under DATA_DIR/mail. A sent message's body is erased.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { newId, type Transaction } from '@tms/db'
import type { Logger } from '@tms/logging'
import type { Kysely } from 'kysely'
import nodemailer from 'nodemailer'
import type { Clock } from './clock.ts'
import type { AuthDatabase } from './db/schema.ts'

export interface MailMessage {
  to: string
  subject: string
  text: string
}

export interface MailTransport {
  send(message: MailMessage): Promise<void>
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

export function smtpTransport(url: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport(url)
  return {
    async send(message) {
      await transporter.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
      })
    },
  }
}

/** Development mail: one readable file per message, so a fresh checkout needs no mail server. */
export function fileTransport(dir: string): MailTransport {
  return {
    async send(message) {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${newId()}.txt`
      const content = `To: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`
      await writeFile(path.join(dir, name), content, { mode: 0o600 })
    },
  }
}

export interface MailSenderOptions {
  db: Kysely<AuthDatabase>
  transport: MailTransport
  logger: Logger
  clock: Clock
  pollMs: number
  batchSize?: number
  /** How long a claimed message stays claimed while it is being sent. */
  claimMs?: number
}

const MAX_BACKOFF_MS = 60 * 60 * 1000

export class MailSender {
  private readonly options: MailSenderOptions
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private stopped = true

  constructor(options: MailSenderOptions) {
    this.options = options
  }

  start(): void {
    this.stopped = false
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running?.catch(() => {})
  }

  private schedule() {
    if (this.stopped) return
    this.timer = setTimeout(async () => {
      try {
        await this.runOnce()
      } catch (err) {
        this.options.logger.warn({ err }, 'mail sender pass failed')
      }
      this.schedule()
    }, this.options.pollMs)
    this.timer.unref()
  }

  /** Sends the messages that are due; returns how many were sent. */
  runOnce(): Promise<number> {
    this.running = this.pass()
    return this.running
  }

  private async pass(): Promise<number> {
    const { db, clock, logger } = this.options
    const now = clock.now()
    const due = await db
      .selectFrom('mail_outbox')
      .select(['id', 'recipient', 'subject', 'body', 'next_attempt_at', 'attempts'])
      .where('sent_at', 'is', null)
      .where('next_attempt_at', '<=', now)
      .orderBy('seq')
      .limit(this.options.batchSize ?? 20)
      .execute()
    let sent = 0
    for (const mail of due) {
      // Claim the row: another instance's sender may have picked it in the same pass.
      const claim = await db
        .updateTable('mail_outbox')
        .set({ next_attempt_at: new Date(now.getTime() + (this.options.claimMs ?? 60_000)) })
        .where('id', '=', mail.id)
        .where('sent_at', 'is', null)
        .where('next_attempt_at', '=', mail.next_attempt_at)
        .executeTakeFirst()
      if (Number(claim.numUpdatedRows) !== 1 || mail.body === null) continue
      try {
        await this.options.transport.send({
          to: mail.recipient,
          subject: mail.subject,
          text: mail.body,
        })
        await db
          .updateTable('mail_outbox')
          .set({ sent_at: clock.now(), body: null, last_error: null })
          .where('id', '=', mail.id)
          .execute()
        sent++
      } catch (err) {
        const attempts = mail.attempts + 1
        const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts)
        logger.warn({ err, mail_id: mail.id, attempts }, 'mail not sent; will retry')
        await db
          .updateTable('mail_outbox')
          .set({
            attempts,
            last_error: String((err as Error).message ?? err).slice(0, 500),
            next_attempt_at: new Date(clock.now().getTime() + backoff),
          })
          .where('id', '=', mail.id)
          .execute()
      }
    }
    return sent
  }
}
