import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createLogger } from '@tms/logging'
import t from 'tap'
import { loadSigningKeys } from '../src/keys.ts'
import type { MailTransport } from '../src/mail.ts'
import { sendDueMail } from '../src/use-cases/mail.ts'
import { setup, signup } from './helpers.ts'

async function tempDir(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'tms-auth-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const silent = createLogger({ service: 'auth', level: 'silent' })

t.test('the mail job writes one file per message and erases the sent body', async (t) => {
  const dir = await tempDir(t)
  // Without SMTP_URL the service's mail job writes files under DATA_DIR/mail.
  const h = await setup(t, { dataDir: dir })
  const user = await signup(h.app)
  await h.app.inject({
    method: 'POST',
    url: '/auth/forgot-password/request-otp',
    payload: { email: user.email },
  })
  const mail = h.job('mail')
  t.equal(mail.everyMs, h.config.mailPollMs)
  t.equal(await mail.run(), 1)
  t.equal(await mail.run(), 0, 'sent once')
  const files = await readdir(path.join(dir, 'mail'))
  t.equal(files.length, 1)
  const content = await readFile(path.join(dir, 'mail', files[0] as string), 'utf8')
  t.match(
    content,
    new RegExp(
      `^To: ${user.email.replace('.', '\\.')}\\nSubject: Your password reset code\\n\\n.*\\b\\d{6}\\b`,
    ),
  )
  const row = await h.db.selectFrom('mail_outbox').selectAll().executeTakeFirstOrThrow()
  t.ok(row.sent_at)
  t.equal(row.body, null, 'the body (with the code) is erased')
})

t.test('a failed send is retried later, with growing delays', async (t) => {
  const h = await setup(t)
  const user = await signup(h.app)
  await h.app.inject({
    method: 'POST',
    url: '/auth/forgot-password/request-otp',
    payload: { email: user.email },
  })
  let fail = true
  const sent: string[] = []
  const transport: MailTransport = {
    async send(message) {
      if (fail) throw new Error('smtp down')
      sent.push(message.to)
    },
  }
  const send = () => sendDueMail({ db: h.db, transport, logger: silent, clock: h.clock })
  t.equal(await send(), 0)
  const failed = await h.db.selectFrom('mail_outbox').selectAll().executeTakeFirstOrThrow()
  t.equal(failed.attempts, 1)
  t.equal(failed.last_error, 'smtp down')
  t.ok(failed.body, 'kept for the retry')
  fail = false
  t.equal(await send(), 0, 'not due yet')
  h.clock.advance(2_000)
  t.equal(await send(), 1)
  t.same(sent, [user.email])
})

t.test('development key: generated once under the data directory, then reused', async (t) => {
  const dir = await tempDir(t)
  const first = await loadSigningKeys({ dataDir: dir, production: false })
  t.ok(first.generated)
  const file = path.join(dir, 'keys', 'jwt-private.pem')
  t.equal((await stat(file)).mode & 0o777, 0o600)
  const second = await loadSigningKeys({ dataDir: dir, production: false })
  t.equal(second.kid, first.kid)
  t.same(second.jwks, first.jwks)
})

t.test(
  'production refuses a generated key; a configured key and a previous key work',
  async (t) => {
    const dir = await tempDir(t)
    await t.rejects(loadSigningKeys({ dataDir: dir, production: true }), /required in production/)
    const pem = (curve: string) => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve })
      return {
        private: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        public: publicKey.export({ format: 'pem', type: 'spki' }) as string,
      }
    }
    const current = pem('prime256v1')
    const previous = pem('prime256v1')
    const keys = await loadSigningKeys({
      dataDir: dir,
      production: true,
      privateKeyPem: current.private,
      previousPublicKeyPem: previous.public,
    })
    t.notOk(keys.generated)
    t.equal(keys.jwks.keys.length, 2, 'the previous key is still published')
    t.equal(keys.jwks.keys[0]?.kid, keys.kid)
    await t.rejects(
      loadSigningKeys({ dataDir: dir, production: true, privateKeyPem: pem('secp384r1').private }),
      /P-256/,
    )
  },
)
