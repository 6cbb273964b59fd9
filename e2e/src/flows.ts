// The steps of the users' flows, against any running system's URL: the e2e tests use them on
// the processes they start, and the compose smoke run on the containers.
import { type Account, Client, eventually, files, login, newAccount } from './client.ts'

export const RATE = 3000 // 30.00 an hour

/** A one-hour slot at the given UTC hour, days ahead (tomorrow by default). */
export function slot(hour: number, daysAhead = 1) {
  const start = new Date()
  start.setUTCDate(start.getUTCDate() + daysAhead)
  start.setUTCHours(hour, 0, 0, 0)
  const end = new Date(start.getTime() + 60 * 60 * 1000)
  return { start_time: start.toISOString(), end_time: end.toISOString() }
}

export async function balances(client: Client) {
  const me = await client.expect(200, 'GET', '/user/me')
  return { balance: me.balance as number, available: me.available_balance as number }
}

export function getSession(client: Client, id: string) {
  return client.expect(200, 'GET', `/academic/class-sessions/${id}`)
}

/** Waits until the session's answer passes `check`; returns it. */
export function sessionWhen(
  client: Client,
  id: string,
  check: (s: Record<string, unknown>) => boolean,
  what: string,
  timeoutMs = 60_000,
) {
  return eventually(
    async () => {
      const s = await getSession(client, id)
      return check(s) && s
    },
    what,
    timeoutMs,
  )
}

export interface Cast {
  api: Client
  boss: Client
  tutor: Account
  student: Account
  profile: { id: string; status: string; documents: { id: string; kind: string }[] }
}

/**
 * A tutor with an approved profile at `rate` (a CV and an ID card, each reviewed), and a
 * student credited `credit`, all through the public API.
 */
export async function cast(
  url: string,
  admin: { username: string; password: string },
  credit: number,
  rate = RATE,
): Promise<Cast> {
  const api = new Client(url)
  const boss = await login(api, admin.username, admin.password)
  const tutor = await newAccount(api, 'tutor')
  const student = await newAccount(api, 'student')

  const form = new FormData()
  form.set('bio', 'Maths and physics for the last years of school.')
  form.set('subjects', 'maths,physics')
  form.set('hourly_rate', String(rate))
  form.set('cv', new Blob([files.pdf], { type: 'application/pdf' }), 'cv.pdf')
  form.set('id_card', new Blob([files.png], { type: 'image/png' }), 'id.png')
  const profile = await tutor.client.expect(201, 'POST', '/academic/tutor-profiles', form)
  // The admin reviews each document, then the profile.
  for (const document of profile.documents as { id: string }[]) {
    const path = `/academic/tutor-profiles/${profile.id}/documents/${document.id}`
    await boss.expect(200, 'PATCH', path, { status: 'approved' })
  }
  await boss.expect(200, 'PATCH', `/academic/tutor-profiles/${profile.id}`, {
    status: 'approved',
    review_note: 'documents checked',
  })
  // Each wallet follows its signup's event; money goes in once it is there.
  for (const who of [student, tutor]) {
    await eventually(
      async () => (await who.client.call('GET', '/user/me')).status === 200,
      `the profile of ${who.username}`,
    )
  }
  if (credit > 0) {
    await boss.expect(200, 'POST', `/user/${student.id}/deposit`, { amount: credit })
  }
  return { api, boss, tutor, student, profile }
}

/** The student requests a one-hour session with the tutor (201); the session as answered. */
export async function requestSession(
  c: Cast,
  hour: number,
  daysAhead = 1,
): Promise<{ id: string; price: number }> {
  return c.student.client.expect(201, 'POST', '/academic/class-sessions', {
    tutor_id: c.tutor.id,
    subject: 'maths',
    ...slot(hour, daysAhead),
  })
}

/** Waits until the session's payment reaches `status` (the wallet's events moved it); the session. */
export function paymentWhen(c: Cast, sessionId: string, status: string, what = status) {
  return sessionWhen(c.student.client, sessionId, (s) => s.payment_status === status, what)
}

/** The student requests a one-hour session with the tutor; waits until it is authorized. */
export async function requestAuthorized(c: Cast, hour: number, daysAhead = 1) {
  const requested = await requestSession(c, hour, daysAhead)
  await paymentWhen(c, requested.id, 'authorized', 'the hold')
  return requested
}

/** The tutor accepts, starts and completes it; waits until it is paid. */
export async function runToPaid(c: Cast, sessionId: string) {
  for (const step of ['accept', 'processing', 'complete']) {
    await c.tutor.client.expect(200, 'PATCH', `/academic/class-sessions/${sessionId}/${step}`)
  }
  return paymentWhen(c, sessionId, 'captured', 'the capture')
}
