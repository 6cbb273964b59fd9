// A smoke run against the compose stack (scripts/containers.sh smoke): a student signs up
// through auth, logs in, and the wallet shows the profile that auth's event made; a reset-code
// request reaches the mail catcher over SMTP. The full flow through the gateway replaces this
// once the gateway and the academic service exist.
//   AUTH_URL=http://127.0.0.1:18001 WALLET_URL=http://127.0.0.1:18002 \
//   MAIL_URL=http://127.0.0.1:18025 node scripts/compose-smoke.ts
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'

const authUrl = required('AUTH_URL')
const walletUrl = required('WALLET_URL')
const mailUrl = required('MAIL_URL')

function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`set ${name}`)
  return value
}

async function call(method: string, url: string, body?: unknown, token?: string) {
  const response = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

function expect(what: string, ok: boolean, detail: unknown): void {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(detail)}`)
  console.log(`smoke: ${what}`)
}

/** Polls until `check` gives a value, for effects that travel through the broker. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`)
    await sleep(200)
  }
}

const name = `smoke${randomBytes(4).toString('hex')}`
const email = `${name}@example.com`
const password = `Smoke-${randomBytes(8).toString('hex')}`

const signup = await call('POST', `${authUrl}/auth/signup`, {
  username: name,
  email,
  password,
  role: 'student',
})
expect('signup through auth answers 201', signup.status === 201, signup)

const login = await call('POST', `${authUrl}/auth/login`, { username: name, password })
expect('login answers a token', login.status === 200 && login.body.access_token, login)
const token: string = login.body.access_token

const profile = await eventually('the wallet profile', async () => {
  const me = await call('GET', `${walletUrl}/user/me`, undefined, token)
  if (me.status === 404) return undefined
  return me
})
expect(
  'the wallet shows the profile made by auth.user.registered',
  profile.status === 200 &&
    profile.body.id === signup.body.id &&
    profile.body.email === email &&
    profile.body.balance === 0,
  profile,
)

const reset = await call('POST', `${authUrl}/auth/forgot-password/request-otp`, { email })
expect('a reset code is requested', reset.status === 202, reset)
await eventually('the reset mail in the catcher', async () => {
  const recipients = await mailRecipients()
  return recipients.includes(email) ? true : undefined
})
expect('the reset mail reached the mail catcher over SMTP', true, undefined)

/** The recipients of every caught mail: Mailpit's API, or MailDev's (the stand-in here). */
async function mailRecipients(): Promise<string[]> {
  const mailpit = await fetch(`${mailUrl}/api/v1/messages`)
  if (mailpit.ok) {
    const { messages } = (await mailpit.json()) as { messages: { To: { Address: string }[] }[] }
    return messages.flatMap((m) => m.To.map((to) => to.Address))
  }
  const maildev = await fetch(`${mailUrl}/api/email`)
  if (!maildev.ok) throw new Error(`no mail API at ${mailUrl}: ${maildev.status}`)
  const mails = (await maildev.json()) as { to: { address: string }[] }[]
  return mails.flatMap((m) => m.to.map((to) => to.address))
}
