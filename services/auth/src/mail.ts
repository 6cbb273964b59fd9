// Where mail goes: by SMTP when SMTP_URL is set, else one readable file per message under
// DATA_DIR/mail, so a fresh checkout needs no mail server. The mail job (use-cases/mail.ts)
// sends through one of these.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Clock } from '@tms/clock'
import { newId } from '@tms/db'
import nodemailer from 'nodemailer'
import type { AuthConfig } from './config.ts'
import type { MailMessage } from './db/mail.ts'

export interface MailTransport {
  send(message: MailMessage): Promise<void>
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

/** Development mail: one readable file per message. */
export function fileTransport(dir: string, clock: Clock): MailTransport {
  return {
    async send(message) {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const name = `${clock.now().toISOString().replace(/[:.]/g, '-')}-${newId()}.txt`
      const content = `To: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`
      await writeFile(path.join(dir, name), content, { mode: 0o600 })
    },
  }
}

export function configuredTransport(config: AuthConfig, clock: Clock): MailTransport {
  return config.smtpUrl
    ? smtpTransport(config.smtpUrl, config.mailFrom)
    : fileTransport(path.join(config.dataDir, 'mail'), clock)
}
