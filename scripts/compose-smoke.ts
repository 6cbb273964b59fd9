// The end-to-end flows against the compose stack (scripts/containers.sh smoke), through the
// gateway only, as a client meets it: a tutor's profile with a CV and an ID card reviewed and
// approved (documents in MinIO), a student credited 100.00 who books a one-hour session at
// 30.00 that is held, accepted, run, completed and paid (the student ends with 70.00, the
// tutor with 30.00 less the fee); a rejection that gives the hold back; a hold the funds
// cannot cover, declined and cancelled; and a reset code that reaches the mail catcher.
//   GATEWAY_URL=http://127.0.0.1:18000 MAIL_URL=http://127.0.0.1:18025 \
//   SMOKE_ADMIN_USERNAME=… SMOKE_ADMIN_PASSWORD=… PLATFORM_FEE_BPS=1000 node scripts/compose-smoke.ts
import {
  balances,
  cast,
  eventually,
  paymentWhen,
  RATE,
  requestAuthorized,
  requestSession,
  runToPaid,
} from '@tms/e2e'

const gatewayUrl = required('GATEWAY_URL')
const mailUrl = required('MAIL_URL')
const admin = {
  username: required('SMOKE_ADMIN_USERNAME'),
  password: required('SMOKE_ADMIN_PASSWORD'),
}
const feeBps = Number(process.env.PLATFORM_FEE_BPS ?? 0)

function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`set ${name}`)
  return value
}

function expect(what: string, actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  }
  console.log(`smoke: ${what}`)
}

// Book, run, pay.
const paying = await cast(gatewayUrl, admin, 10_000)
expect(
  'the tutor profile is pending, with a cv and an id card',
  [paying.profile.status, paying.profile.documents.map((d) => d.kind).sort()],
  ['pending', ['cv', 'id_card']],
)
const booked = await requestAuthorized(paying, 9)
expect('the hold takes 30.00 of the 100.00', await balances(paying.student.client), {
  balance: 10_000,
  available: 7000,
})
await runToPaid(paying, booked.id)
const fee = Math.floor((RATE * feeBps) / 10_000)
expect('the student paid 30.00', await balances(paying.student.client), {
  balance: 7000,
  available: 7000,
})
expect('the tutor got 30.00 less the fee', await balances(paying.tutor.client), {
  balance: RATE - fee,
  available: RATE - fee,
})

// A rejection gives the hold back.
const rejecting = await cast(gatewayUrl, admin, 10_000)
const rejected = await requestAuthorized(rejecting, 11)
await rejecting.tutor.client.expect(200, 'PATCH', `/academic/class-sessions/${rejected.id}/reject`)
await paymentWhen(rejecting, rejected.id, 'released', 'the release')
expect('a rejection gives the hold back', await balances(rejecting.student.client), {
  balance: 10_000,
  available: 10_000,
})

// A hold the funds cannot cover.
const short = await cast(gatewayUrl, admin, 1000)
const declined = await requestSession(short, 13)
const end = await paymentWhen(short, declined.id, 'declined', 'the decline')
expect(
  'a hold beyond the funds is declined and the session cancelled',
  [end.status, end.cancel_reason],
  ['cancelled', 'insufficient_funds'],
)

// Mail leaves through auth's outbox and SMTP to the catcher.
const email = `${paying.student.username}@example.com`
await paying.api.expect(202, 'POST', '/auth/forgot-password/request-otp', { email })
await eventually(
  async () => (await mailRecipients()).includes(email),
  'the reset mail in the catcher',
)
console.log('smoke: the reset mail reached the mail catcher over SMTP')

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
