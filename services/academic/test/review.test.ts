// Reviews: an admin decides on each document and the profile (who and when kept), decisions are
// published through the outbox, the owner resubmits after a rejection, and a tutor whose role is
// taken away stops being bookable (their profile is rejected).
import { outboxEvents } from '@tms/kit/testing'
import t, { type Test } from 'tap'
import { sample } from './fixtures.ts'
import {
  createProfile,
  type ProfileService,
  postForm,
  profileFields,
  profileService,
} from './profile-helpers.ts'

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function published(service: ProfileService) {
  return (await outboxEvents(service.db))
    .filter((e) => e.type.startsWith('academic.tutor-profile.'))
    .map(({ type, data }) => ({ type, data }))
}

async function setUp(t: Test) {
  const service = await profileService(t, 'local')
  const tutor = await service.user('tutor-1', 'tutor')
  const admin = await service.user('admin-1', 'admin')
  const profile = await createProfile(service, tutor.token, [
    { field: 'cv', bytes: sample.pdf() },
    { field: 'id_card', bytes: sample.png() },
  ])
  const base = `/academic/tutor-profiles/${profile.id}`
  const call = (method: 'GET' | 'PATCH', url: string, token: string, payload?: object) =>
    service.app.inject({ method, url, headers: bearer(token), payload })
  return { service, tutor, admin, profile, base, call }
}

t.test('an admin reviews the documents, then the profile; decisions are published', async (t) => {
  const { service, tutor, admin, profile, base, call } = await setUp(t)
  const [cv, idCard] = profile.documents

  const early = await call('PATCH', base, admin.token, { status: 'approved' })
  t.equal(early.statusCode, 409, 'not before the cv is approved')
  t.match(early.json(), { detail: /cv/ })

  const rejectedId = await call('PATCH', `${base}/documents/${idCard.id}`, admin.token, {
    status: 'rejected',
    review_note: 'blurred',
  })
  t.equal(rejectedId.statusCode, 200)
  t.match(rejectedId.json(), { status: 'rejected', review_note: 'blurred', reviewed_by: admin.id })
  const approvedCv = await call('PATCH', `${base}/documents/${cv.id}`, admin.token, {
    status: 'approved',
  })
  t.match(approvedCv.json(), { status: 'approved', review_note: null, reviewed_by: admin.id })
  t.equal(approvedCv.json().reviewed_at, service.clock.now().toISOString(), 'when, by the clock')
  for (const bad of [{ status: 'pending' }, { status: 'approved', extra: 1 }, {}]) {
    const res = await call('PATCH', `${base}/documents/${cv.id}`, admin.token, bad)
    t.equal(res.statusCode, 400, `document review ${JSON.stringify(bad)}`)
  }

  const approved = await call('PATCH', base, admin.token, { status: 'approved', review_note: 'ok' })
  t.equal(approved.statusCode, 200)
  t.match(approved.json(), { status: 'approved', review_note: 'ok', reviewed_by: admin.id })
  t.same(await published(service), [
    {
      type: 'academic.tutor-profile.approved',
      data: { profile_id: profile.id, user_id: tutor.id, reviewed_by: admin.id, review_note: 'ok' },
    },
  ])
  // The same decision again changes nothing to publish.
  t.equal((await call('PATCH', base, admin.token, { status: 'approved' })).statusCode, 200)
  t.equal((await published(service)).length, 1)

  // An approved profile stays approved when its tutor edits it.
  const edited = await call('PATCH', base, tutor.token, { hourly_rate: 3000, subjects: ['Chess'] })
  t.match(edited.json(), { status: 'approved', hourly_rate: 3000, subjects: ['chess'] })

  const rejected = await call('PATCH', base, admin.token, {
    status: 'rejected',
    review_note: 'the cv is not yours',
  })
  t.match(rejected.json(), { status: 'rejected', review_note: 'the cv is not yours' })
  t.match((await published(service))[1], {
    type: 'academic.tutor-profile.rejected',
    data: { profile_id: profile.id, review_note: 'the cv is not yours' },
  })

  // The tutor resubmits by changing it (fields or documents): back to pending.
  const resubmitted = await call('PATCH', base, tutor.token, { bio: 'Updated.' })
  t.match(resubmitted.json(), { status: 'pending', bio: 'Updated.' })
  t.equal((await call('PATCH', base, admin.token, { status: 'rejected' })).statusCode, 200)
  const withDocument = await postForm(service, `${base}/documents`, tutor.token, {}, [
    { field: 'id_card', bytes: sample.jpeg() },
  ])
  t.equal(withDocument.statusCode, 201)
  t.equal(withDocument.json().status, 'pending', 'a new document resubmits too')
  t.equal(withDocument.json().documents.length, 2, 'the new id card replaced the rejected one')

  const nothing = await call('PATCH', base, tutor.token, {})
  t.equal(nothing.statusCode, 400, 'an empty change')
  const noteAlone = await call('PATCH', base, admin.token, { review_note: 'x' })
  t.equal(noteAlone.statusCode, 400, 'a note without a decision')
})

t.test('a tutor whose role is taken away is no longer bookable', async (t) => {
  const { service, tutor, admin, profile, base, call } = await setUp(t)
  await call('PATCH', `${base}/documents/${profile.documents[0].id}`, admin.token, {
    status: 'approved',
  })
  await call('PATCH', base, admin.token, { status: 'approved' })
  const anonymous = () => service.app.inject({ method: 'GET', url: '/academic/tutor-profiles' })
  t.equal((await anonymous()).json().items.length, 1, 'listed while approved')

  await service.publish('auth.user.role-changed', {
    user_id: tutor.id,
    role: 'student',
    changed_by: admin.id,
  })
  await service.handled('academic.users', 1)
  const row = await service.db
    .selectFrom('tutor_profiles')
    .select(['status', 'reviewed_by', 'review_note'])
    .executeTakeFirstOrThrow()
  t.same(
    row,
    {
      status: 'rejected',
      reviewed_by: admin.id,
      review_note: "the account's role changed to student",
    },
    'booking reads this status: not approved',
  )
  t.same((await anonymous()).json().items, [], 'no longer listed')
  t.match((await published(service)).at(-1), {
    type: 'academic.tutor-profile.rejected',
    data: { profile_id: profile.id, user_id: tutor.id, reviewed_by: admin.id },
  })
  // The old token still says tutor; the role here says student: no owner's rights.
  const edit = await call('PATCH', base, tutor.token, { bio: 'Back!' })
  t.equal(edit.statusCode, 403)
  const approve = await call('PATCH', base, admin.token, { status: 'approved' })
  t.equal(approve.statusCode, 409, 'an admin cannot approve a non-tutor')

  // The same event again changes nothing (the inbox), and a role given back needs a review.
  await service.publish('auth.user.role-changed', {
    user_id: tutor.id,
    role: 'tutor',
    changed_by: admin.id,
  })
  await service.handled('academic.users', 2)
  t.equal((await call('GET', base, tutor.token)).json().status, 'rejected')
  t.equal((await call('PATCH', base, tutor.token, { bio: 'Back!' })).json().status, 'pending')
})

t.test('an admin is one whose copy here says so too', async (t) => {
  const { service, base, profile } = await setUp(t)
  const unknownAdmin = await service.token({ id: 'admin-9', role: 'admin' })
  await service.user('demoted', 'tutor')
  const demoted = await service.token({ id: 'demoted', role: 'admin' })
  for (const token of [unknownAdmin, demoted]) {
    const res = await service.app.inject({
      method: 'PATCH',
      url: `${base}/documents/${profile.documents[0].id}`,
      headers: bearer(token),
      payload: { status: 'approved' },
    })
    t.equal(res.statusCode, 403)
    const seen = await service.app.inject({ method: 'GET', url: base, headers: bearer(token) })
    t.equal(seen.statusCode, 404, 'and sees no pending profile')
  }
})

t.test('an admin creates a profile for a tutor', async (t) => {
  const service = await profileService(t, 'local')
  const admin = await service.user('admin-1', 'admin')
  await service.user('tutor-1', 'tutor')
  await service.user('student-1', 'student')
  const post = (fields: Record<string, string>) =>
    postForm(service, '/academic/tutor-profiles', admin.token, { ...profileFields, ...fields }, [
      { field: 'cv', bytes: sample.pdf() },
    ])
  t.equal((await post({})).statusCode, 400, 'user_id required')
  t.equal((await post({ user_id: 'nobody' })).statusCode, 404)
  t.equal((await post({ user_id: 'student-1' })).statusCode, 409, 'not a tutor')
  const made = await post({ user_id: 'tutor-1' })
  t.equal(made.statusCode, 201)
  t.equal(made.json().user_id, 'tutor-1')
  t.equal((await post({ user_id: 'tutor-1' })).statusCode, 409, 'one per tutor')
  t.same(await service.rows(), { profiles: 1, documents: 1, intents: 0, tombstones: 0 })
})
