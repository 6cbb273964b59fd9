// `scripts/tms seed`: believable demo data in a running system, through the gateway's public
// API only (SEED_URL, default http://localhost:8000): tutors with reviewed profiles across
// subjects and rates, students with money in their wallets, and sessions in every state.
// Idempotent: every account, profile, deposit and session is looked for first (accounts by
// logging in, sessions by a `seed:` note, deposits by their reference), so a second run adds
// nothing. 10 accounts, within the signups one address may make per window. The admin is the
// development admin of `scripts/tms up` unless SEED_ADMIN_USERNAME and SEED_ADMIN_PASSWORD
// say otherwise.
import { type Account, Client, eventually, files } from '@tms/e2e'

const url = process.env.SEED_URL ?? 'http://localhost:8000'
const password = process.env.SEED_PASSWORD ?? 'seed-password-123'
// A patient client: the gateway limits requests to /auth per address and minute.
const api = new Client(url, undefined, 90)

const tutors = [
  { username: 'ada_lovelace', name: 'Ada Lovelace', subjects: 'maths,programming', rate: 4500 },
  { username: 'marie_curie', name: 'Marie Curie', subjects: 'chemistry,physics', rate: 5000 },
  { username: 'jane_austen', name: 'Jane Austen', subjects: 'english,literature', rate: 3000 },
  { username: 'mary_seacole', name: 'Mary Seacole', subjects: 'biology', rate: 2500 },
  { username: 'clara_schumann', name: 'Clara Schumann', subjects: 'music,piano', rate: 4000 },
] as const
const students = [
  { username: 'sam_student', name: 'Sam Student', credit: 50_000 },
  { username: 'robin_reader', name: 'Robin Reader', credit: 30_000 },
  { username: 'alex_asker', name: 'Alex Asker', credit: 20_000 },
  { username: 'kim_keen', name: 'Kim Keen', credit: 15_000 },
  { username: 'lee_light', name: 'Lee Light', credit: 1000 },
] as const

type Target =
  | 'requested'
  | 'accepted'
  | 'processing'
  | 'completed'
  | 'rejected'
  | 'cancelled'
  | 'declined'

/** Sessions in every state (and one declined for want of funds): student, tutor, day, hour. */
const sessions: {
  name: string
  student: string
  tutor: string
  day: number
  hour: number
  target: Target
}[] = [
  {
    name: 'requested',
    student: 'sam_student',
    tutor: 'ada_lovelace',
    day: 3,
    hour: 9,
    target: 'requested',
  },
  {
    name: 'accepted',
    student: 'sam_student',
    tutor: 'marie_curie',
    day: 4,
    hour: 10,
    target: 'accepted',
  },
  {
    name: 'processing',
    student: 'robin_reader',
    tutor: 'jane_austen',
    day: 2,
    hour: 14,
    target: 'processing',
  },
  {
    name: 'completed',
    student: 'robin_reader',
    tutor: 'ada_lovelace',
    day: 5,
    hour: 15,
    target: 'completed',
  },
  {
    name: 'completed-2',
    student: 'alex_asker',
    tutor: 'clara_schumann',
    day: 6,
    hour: 16,
    target: 'completed',
  },
  {
    name: 'rejected',
    student: 'alex_asker',
    tutor: 'mary_seacole',
    day: 7,
    hour: 11,
    target: 'rejected',
  },
  {
    name: 'cancelled',
    student: 'kim_keen',
    tutor: 'jane_austen',
    day: 8,
    hour: 12,
    target: 'cancelled',
  },
  {
    name: 'declined',
    student: 'lee_light',
    tutor: 'marie_curie',
    day: 9,
    hour: 13,
    target: 'declined',
  },
]

/** The tutor's way from `requested` to each state, one transition at a time. */
const path: Record<Target, string[]> = {
  requested: [],
  accepted: ['accept'],
  processing: ['accept', 'processing'],
  completed: ['accept', 'processing', 'complete'],
  rejected: ['reject'],
  cancelled: ['cancel'],
  declined: [],
}

function say(line: string) {
  process.stdout.write(`seed: ${line}\n`)
}

/** Logs in, signing up first when the account is not there (a second run signs up nobody). */
async function signupOrLogin(
  username: string,
  role: 'student' | 'tutor',
  name: string,
): Promise<Account> {
  let login = await api.call('POST', '/auth/login', { username, password })
  if (login.status === 401) {
    // Signups per address are limited (10 a window by default): the seed makes 10 accounts.
    await api.expect(201, 'POST', '/auth/signup', {
      username,
      email: `${username.replace(/_/g, '.')}@example.com`,
      password,
      role,
      name,
    })
    login = await api.call('POST', '/auth/login', { username, password })
  }
  if (login.status !== 200) {
    throw new Error(`login of ${username}: ${login.status} ${JSON.stringify(login.body)}`)
  }
  const client = api.as(login.body.access_token)
  // The wallet's profile follows the signup's event.
  const me = await eventually(async () => {
    const res = await client.call('GET', '/user/me')
    return res.status === 200 && res.body
  }, `the profile of ${username}`)
  return { id: me.id, username, password, client }
}

async function reviewedProfile(boss: Client, tutor: Account, spec: (typeof tutors)[number]) {
  const mine = await tutor.client.expect(
    200,
    'GET',
    `/academic/tutor-profiles?user_id=${encodeURIComponent(tutor.id)}`,
  )
  let profile = mine.items[0]
  if (!profile) {
    const form = new FormData()
    form.set('bio', `${spec.name} teaches ${spec.subjects.replace(',', ' and ')}.`)
    form.set('subjects', spec.subjects)
    form.set('hourly_rate', String(spec.rate))
    form.set('cv', new Blob([files.pdf], { type: 'application/pdf' }), 'cv.pdf')
    form.set('id_card', new Blob([files.png], { type: 'image/png' }), 'id-card.png')
    profile = await tutor.client.expect(201, 'POST', '/academic/tutor-profiles', form)
  }
  if (profile.status !== 'approved') {
    const full = await boss.expect(200, 'GET', `/academic/tutor-profiles/${profile.id}`)
    for (const document of full.documents as { id: string; status: string }[]) {
      if (document.status === 'approved') continue
      await boss.expect(
        200,
        'PATCH',
        `/academic/tutor-profiles/${profile.id}/documents/${document.id}`,
        { status: 'approved', review_note: 'seeded' },
      )
    }
    await boss.expect(200, 'PATCH', `/academic/tutor-profiles/${profile.id}`, {
      status: 'approved',
      review_note: 'seeded',
    })
  }
}

async function credited(boss: Client, student: Account, amount: number) {
  const history = await boss.expect(200, 'GET', `/user/${student.id}/transactions?limit=100`)
  const done = (history.items as { kind: string; reference: string | null }[]).some(
    (e) => e.kind === 'deposit' && e.reference === 'seed',
  )
  if (done) return
  await boss.expect(
    200,
    'POST',
    `/user/${student.id}/deposit`,
    { amount, reference: 'seed', reason: 'demo data' },
    { 'idempotency-key': `seed-deposit-${student.username}` },
  )
}

function slot(day: number, hour: number) {
  const start = new Date()
  start.setUTCDate(start.getUTCDate() + day)
  start.setUTCHours(hour, 0, 0, 0)
  return {
    start_time: start.toISOString(),
    end_time: new Date(start.getTime() + 60 * 60 * 1000).toISOString(),
  }
}

async function seededSession(student: Account, tutor: Account, spec: (typeof sessions)[number]) {
  const note = `seed:${spec.name}`
  const listed = await student.client.expect(
    200,
    'GET',
    `/academic/class-sessions?student_id=${encodeURIComponent(student.id)}&limit=100`,
  )
  let session = (listed.items as { id: string; note: string | null }[]).find((s) => s.note === note)
  if (!session) {
    session = await student.client.expect(201, 'POST', '/academic/class-sessions', {
      tutor_id: tutor.id,
      subject: tutorSubject(spec.tutor),
      note,
      ...slot(spec.day, spec.hour),
    })
  }
  const id = (session as { id: string }).id
  // The hold first: a tutor can accept only an authorized session.
  const held = await eventually(async () => {
    const s = await student.client.expect(200, 'GET', `/academic/class-sessions/${id}`)
    return s.payment_status !== 'pending' && s
  }, `the hold of ${spec.name}`)
  if (spec.target === 'declined') return held.payment_status
  let status: string = held.status
  for (const step of path[spec.target]) {
    const before = order.indexOf(status)
    const after = order.indexOf(stepResult[step] ?? '')
    if (after <= before || status === 'rejected' || status === 'cancelled') continue
    const actor = step === 'cancel' ? student : tutor
    const done = await actor.client.expect(200, 'PATCH', `/academic/class-sessions/${id}/${step}`)
    status = done.status
  }
  return status
}

const order = ['requested', 'accepted', 'processing', 'completed', 'rejected', 'cancelled']
const stepResult: Record<string, string> = {
  accept: 'accepted',
  processing: 'processing',
  complete: 'completed',
  reject: 'rejected',
  cancel: 'cancelled',
}

function tutorSubject(username: string): string {
  return tutors.find((t) => t.username === username)?.subjects.split(',')[0] ?? 'maths'
}

const ready = await fetch(`${url}/health`).catch(() => undefined)
if (!ready) {
  process.stderr.write(`seed: nothing answers at ${url}; start the system first (scripts/tms up)\n`)
  process.exit(1)
}
const boss = api.as(
  (
    await api.expect(200, 'POST', '/auth/login', {
      username: process.env.SEED_ADMIN_USERNAME ?? 'admin',
      password: process.env.SEED_ADMIN_PASSWORD ?? 'admin-dev-password',
    })
  ).access_token,
)
const accounts = new Map<string, Account>()
for (const spec of tutors) {
  const tutor = await signupOrLogin(spec.username, 'tutor', spec.name)
  await reviewedProfile(boss, tutor, spec)
  accounts.set(spec.username, tutor)
  say(`tutor ${spec.username} (${spec.subjects}, ${(spec.rate / 100).toFixed(2)}/h) approved`)
}
for (const spec of students) {
  const student = await signupOrLogin(spec.username, 'student', spec.name)
  await credited(boss, student, spec.credit)
  accounts.set(spec.username, student)
  say(`student ${spec.username} credited ${(spec.credit / 100).toFixed(2)}`)
}
for (const spec of sessions) {
  const student = accounts.get(spec.student) as Account
  const tutor = accounts.get(spec.tutor) as Account
  const state = await seededSession(student, tutor, spec)
  say(`session ${spec.name}: ${spec.student} with ${spec.tutor} is ${state}`)
}
say(`done: every account's password is ${password}`)
