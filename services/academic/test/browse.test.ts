// Browsing tutor profiles: every filter and order against the same rule computed here, paged
// to the end by cursor, the visibility of each kind of caller, refusals of a bad query, and the
// query plans of the subject and rate filters (printed, and the index each must use asserted).
import { newId } from '@tms/db'
import { CompiledQuery } from 'kysely'
import t from 'tap'
import { type BrowseFilters, browseQuery } from '../src/db/profiles.ts'
import { profileService } from './profile-helpers.ts'

const SUBJECTS = Array.from({ length: 30 }, (_, i) => `subject ${i}`)
const STATUSES = ['approved', 'approved', 'approved', 'pending', 'rejected'] as const

interface Seeded {
  id: string
  user_id: string
  status: (typeof STATUSES)[number]
  hourly_rate: number
  bio: string
  subjects: string[]
}

/** A deterministic pseudo-random sequence, so a failure replays. */
function sequence(seed: number) {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return x / 2 ** 31
  }
}

t.test('browse: filters, orders, cursors, visibility and query plans', async (t) => {
  const service = await profileService(t, 'local')
  const random = sequence(42)
  const seeded: Seeded[] = []
  const count = 3000
  for (let i = 0; i < count; i++) {
    const subjects = [
      ...new Set(
        [0, 1, 2]
          .slice(0, 1 + Math.floor(random() * 3))
          .map(() => SUBJECTS[Math.floor(random() * SUBJECTS.length)] as string),
      ),
    ]
    seeded.push({
      id: newId(),
      user_id: `tutor-${i}`,
      status: STATUSES[Math.floor(random() * STATUSES.length)] as Seeded['status'],
      hourly_rate: 1000 + Math.floor(random() * 40) * 100,
      bio: i % 50 === 0 ? `Patient teacher of 100%_Ünïcode number ${i}` : `Tutor number ${i}`,
      subjects,
    })
  }
  const now = service.clock.now()
  for (let at = 0; at < count; at += 500) {
    const batch = seeded.slice(at, at + 500)
    await service.db
      .insertInto('tutor_profiles')
      .values(
        batch.map((p) => ({
          id: p.id,
          user_id: p.user_id,
          status: p.status,
          bio: p.bio,
          hourly_rate: p.hourly_rate,
          currency: 'usd',
          review_note: null,
          reviewed_by: null,
          reviewed_at: null,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute()
    await service.db
      .insertInto('tutor_subjects')
      .values(batch.flatMap((p) => p.subjects.map((subject) => ({ profile_id: p.id, subject }))))
      .execute()
  }
  await service.db.executeQuery(CompiledQuery.raw('ANALYZE TABLE tutor_profiles, tutor_subjects'))
  const tutor = await service.user('tutor-7', 'tutor')
  const student = await service.user('student-1', 'student')
  const admin = await service.user('admin-1', 'admin')

  /** Every page of a browse, by cursor, as ids. */
  async function all(query: Record<string, string | number>, token?: string) {
    const ids: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 1000; pages++) {
      const params = new URLSearchParams({
        ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])),
        limit: '97',
        ...(cursor ? { cursor } : {}),
      })
      const res = await service.app.inject({
        method: 'GET',
        url: `/academic/tutor-profiles?${params}`,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      })
      if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
      const page = res.json()
      ids.push(...page.items.map((p: { id: string }) => p.id))
      cursor = page.next_cursor
      if (!cursor) return ids
    }
    throw new Error('too many pages')
  }

  const byNewest = (a: Seeded, b: Seeded) => (a.id < b.id ? 1 : -1)
  const byRate = (a: Seeded, b: Seeded) => a.hourly_rate - b.hourly_rate || (a.id < b.id ? -1 : 1)
  const visibleTo = (who: 'public' | 'tutor' | 'admin') => (p: Seeded) =>
    who === 'admin' || p.status === 'approved' || (who === 'tutor' && p.user_id === tutor.id)

  const cases: [string, Record<string, string | number>, (p: Seeded) => boolean][] = [
    ['everything', {}, () => true],
    ['a subject, any case', { subject: '  SUBJECT 7 ' }, (p) => p.subjects.includes('subject 7')],
    [
      'a rate range',
      { min_rate: 2000, max_rate: 3000 },
      (p) => p.hourly_rate >= 2000 && p.hourly_rate <= 3000,
    ],
    [
      'a subject and a rate range',
      { subject: 'subject 3', min_rate: 2500 },
      (p) => p.subjects.includes('subject 3') && p.hourly_rate >= 2500,
    ],
    ['text in the bio', { q: '100%_ünï' }, (p) => p.bio.toLowerCase().includes('100%_ünï')],
    ['text in a subject', { q: 'JECT 29' }, (p) => p.subjects.includes('subject 29')],
    ['a user', { user_id: 'tutor-10' }, (p) => p.user_id === 'tutor-10'],
    ['a status', { status: 'pending' }, (p) => p.status === 'pending'],
  ]
  for (const [what, query, matches] of cases) {
    for (const [who, token] of [
      ['public', undefined],
      ['public', student.token],
      ['tutor', tutor.token],
      ['admin', admin.token],
    ] as const) {
      const expected = seeded.filter((p) => visibleTo(who)(p) && matches(p))
      t.same(
        await all(query, token),
        [...expected].sort(byNewest).map((p) => p.id),
        `${what}, ${who}${token === student.token ? ' (student)' : ''}, newest first`,
      )
      if (who === 'tutor') continue
      t.same(
        await all({ ...query, sort: 'rate_asc' }, token),
        [...expected].sort(byRate).map((p) => p.id),
        `${what}, ${who}, by rate`,
      )
      t.same(
        await all({ ...query, sort: 'rate_desc' }, token),
        [...expected].sort((a, b) => byRate(b, a)).map((p) => p.id),
        `${what}, ${who}, by rate, highest first`,
      )
    }
  }
  t.ok(
    seeded.some((p) => p.user_id === tutor.id && p.status !== 'approved') ||
      seeded.find((p) => p.user_id === tutor.id)?.status === 'approved',
    'the tutor has a profile of their own in the data',
  )

  const first = (
    await service.app.inject({ method: 'GET', url: '/academic/tutor-profiles?limit=2' })
  ).json()
  t.equal(first.items.length, 2)
  for (const url of [
    '/academic/tutor-profiles?limit=0',
    '/academic/tutor-profiles?limit=101',
    '/academic/tutor-profiles?min_rate=-1',
    '/academic/tutor-profiles?min_rate=5000&max_rate=100',
    '/academic/tutor-profiles?status=suspended',
    '/academic/tutor-profiles?sort=name',
    '/academic/tutor-profiles?cursor=garbage',
    `/academic/tutor-profiles?sort=rate_asc&cursor=${first.next_cursor}`,
    '/academic/tutor-profiles?unknown=1',
  ]) {
    const res = await service.app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 400, url)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  }

  // The plans, as an anonymous caller's browse runs them, and the index entries it reads.
  const anonymous = { visibility: { all: false, alsoOwnedBy: undefined }, limit: 20 } as const
  async function plan(what: string, filters: Omit<BrowseFilters, 'visibility' | 'limit'>) {
    const compiled = browseQuery(service.db, { ...anonymous, ...filters }).compile()
    const run = (prefix: string) =>
      CompiledQuery.raw(`${prefix}${compiled.sql}`, [...compiled.parameters])
    const rows = (await service.db.executeQuery(run('EXPLAIN '))).rows as Record<string, unknown>[]
    t.comment(`EXPLAIN (${what}):`)
    for (const r of rows) {
      t.comment(`  ${r.table}: type=${r.type} key=${r.key} rows=${r.rows} extra=${r.Extra ?? ''}`)
    }
    // Rows the storage engine handed over, on one connection: a scan would read thousands.
    const read = await service.db.connection().execute(async (conn) => {
      await conn.executeQuery(CompiledQuery.raw('FLUSH STATUS'))
      await conn.executeQuery(run(''))
      const status = await conn.executeQuery(
        CompiledQuery.raw("SHOW SESSION STATUS LIKE 'Handler_read%'"),
      )
      return (status.rows as { Variable_name: string; Value: string }[])
        .filter((r) => /next|prev/.test(r.Variable_name))
        .reduce((sum, r) => sum + Number(r.Value), 0)
    })
    t.comment(`  rows read: ${read} (of ${count} profiles)`)
    t.ok(read <= 10 * (anonymous.limit + 1), `${what}: reads ${read} index entries, not a scan`)
    const byTable = Object.fromEntries(rows.map((r) => [String(r.table), r]))
    for (const r of rows) t.notMatch(String(r.Extra), /filesort|temporary/, `${what}: no sort`)
    return byTable
  }
  const subject = await plan('subject, newest first', { subject: 'subject 7', order: 'newest' })
  t.equal(subject.s?.key, 'tutor_subjects_subject', 'the subject filter walks its index')
  t.equal(subject.p?.key, 'PRIMARY', 'then each profile by id')

  const rate = await plan('rate range, by rate', {
    minRate: 2000,
    maxRate: 3000,
    order: 'rate_asc',
  })
  t.equal(rate.p?.key, 'tutor_profiles_status_rate', 'the rate filter ranges over its index')

  const cursor = await plan('by rate, after a cursor', {
    order: 'rate_asc',
    after: { order: 'rate_asc', rate: 2500, id: seeded[0]?.id as string },
  })
  t.equal(cursor.p?.key, 'tutor_profiles_status_rate', 'a later page starts inside the index')

  await plan('newest first', { order: 'newest' })
})
