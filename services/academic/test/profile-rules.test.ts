// The pure rules of tutor profiles: every allowed and refused case.
import t from 'tap'
import {
  actingRole,
  browseVisibility,
  checkCurrency,
  checkEditableFields,
  checkFileCount,
  checkRemovable,
  documentKindOf,
  MAX_CERTIFICATES,
  mayChange,
  maySeeDocuments,
  normaliseSubject,
  type ProfileStatus,
  parseBio,
  parseHourlyRate,
  parseSubjects,
  planDocuments,
  RuleViolation,
  reviewProfile,
  standing,
  statusAfterOwnerChange,
  statusAfterRoleChange,
} from '../src/domain/profiles.ts'

const tutor = { id: 'tutor1', role: 'tutor' as const }
const otherTutor = { id: 'tutor2', role: 'tutor' as const }
const student = { id: 'student1', role: 'student' as const }
const admin = { id: 'admin1', role: 'admin' as const }
const statuses: ProfileStatus[] = ['pending', 'approved', 'rejected']

function refusal(fn: () => unknown): RuleViolation | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof RuleViolation) return err
    throw err
  }
  return undefined
}

t.test('standing and visibility', async (t) => {
  for (const status of statuses) {
    const profile = { user_id: tutor.id, status }
    t.equal(standing(admin, profile), 'admin', `admin sees a ${status} profile`)
    t.equal(standing(tutor, profile), 'owner', `the owner sees their ${status} profile`)
    const others = status === 'approved' ? 'viewer' : 'none'
    for (const caller of [otherTutor, student, null]) {
      t.equal(standing(caller, profile), others, `${caller?.id ?? 'anonymous'}, ${status}`)
    }
  }
  // A student whose id happens to be the owner's (a tutor turned student) is no owner.
  t.equal(
    standing({ id: tutor.id, role: 'student' }, { user_id: tutor.id, status: 'pending' }),
    'none',
  )
  t.ok(maySeeDocuments('admin'))
  t.ok(maySeeDocuments('owner'))
  t.notOk(maySeeDocuments('viewer'))
  t.notOk(maySeeDocuments('none'))
  t.same(browseVisibility(admin), { all: true })
  t.same(browseVisibility(tutor), { all: false, alsoOwnedBy: tutor.id })
  t.same(browseVisibility(student), { all: false, alsoOwnedBy: undefined })
  t.same(browseVisibility(null), { all: false, alsoOwnedBy: undefined })
})

t.test('the role a caller acts with', async (t) => {
  t.equal(actingRole('tutor', undefined), 'tutor', 'not heard of yet: the token')
  t.equal(actingRole('student', undefined), 'student')
  t.equal(actingRole('admin', undefined), 'student', 'an admin only when the copy says so')
  t.equal(actingRole('admin', 'admin'), 'admin')
  t.equal(actingRole('tutor', 'tutor'), 'tutor')
  t.equal(actingRole('tutor', 'student'), 'student', 'demoted within the token’s lifetime')
  t.equal(actingRole('admin', 'tutor'), 'student')
  t.equal(actingRole('student', 'tutor'), 'student', 'promoted: a new token brings it')
})

t.test('who may change a profile', async (t) => {
  for (const status of statuses) {
    const profile = { user_id: tutor.id, status }
    t.doesNotThrow(() => mayChange(tutor, profile), `owner, ${status}`)
    t.doesNotThrow(() => mayChange(admin, profile), `admin, ${status}`)
    t.equal(refusal(() => mayChange(student, profile))?.refusal, 'forbidden', `student, ${status}`)
    t.equal(
      refusal(() => mayChange(otherTutor, profile))?.refusal,
      'hidden',
      `other tutor, ${status}`,
    )
  }
})

t.test('which fields each may set', async (t) => {
  t.doesNotThrow(() => checkEditableFields('owner', ['bio', 'subjects', 'hourly_rate']))
  for (const sneaky of ['status', 'review_note', 'user_id', 'reviewed_by', 'reviewed_at', 'id']) {
    const err = refusal(() => checkEditableFields('owner', ['bio', sneaky]))
    t.equal(err?.refusal, 'invalid', `owner: ${sneaky}`)
    t.same(err?.errors, [{ field: sneaky, message: 'is not an accepted field' }])
  }
  t.doesNotThrow(() => checkEditableFields('admin', ['bio', 'status', 'review_note']))
  t.doesNotThrow(() => checkEditableFields('admin', ['status']))
  t.equal(refusal(() => checkEditableFields('admin', ['user_id']))?.refusal, 'invalid')
  t.equal(
    refusal(() => checkEditableFields('admin', ['review_note']))?.refusal,
    'invalid',
    'a note alone',
  )
})

t.test('profile fields', async (t) => {
  t.same(parseSubjects(' Math ,  physics,MATH, Linear   Algebra ,,'), [
    'math',
    'physics',
    'linear algebra',
  ])
  t.equal(normaliseSubject('  Linear   ALGEBRA '), 'linear algebra')
  for (const bad of [
    '',
    ' , ,',
    'x'.repeat(51),
    'a\u0000b',
    Array.from({ length: 21 }, (_, i) => `s${i}`).join(','),
  ]) {
    t.equal(refusal(() => parseSubjects(bad))?.refusal, 'invalid', JSON.stringify(bad).slice(0, 40))
  }
  t.equal(parseHourlyRate('2500'), 2500)
  t.equal(parseHourlyRate(1), 1)
  t.equal(parseHourlyRate('10000000'), 10_000_000)
  for (const bad of ['0', '-5', '12.50', '1e3', '', 'abc', '10000001', '0x10', 1.5, ' 25 00']) {
    t.equal(refusal(() => parseHourlyRate(bad))?.refusal, 'invalid', `rate ${JSON.stringify(bad)}`)
  }
  t.equal(parseBio('  Hello\nworld  '), 'Hello\nworld')
  t.equal(refusal(() => parseBio('x'.repeat(5001)))?.refusal, 'invalid')
  t.equal(refusal(() => parseBio('bell\u0007'))?.refusal, 'invalid')
  t.equal(checkCurrency(undefined, 'usd'), 'usd')
  t.equal(checkCurrency('USD', 'usd'), 'usd')
  t.equal(refusal(() => checkCurrency('eur', 'usd'))?.refusal, 'invalid')
})

t.test('documents a profile holds', async (t) => {
  t.equal(documentKindOf('cv'), 'cv')
  t.equal(documentKindOf('id_card'), 'id_card')
  t.equal(documentKindOf('certificates'), 'certificate')
  for (const unknown of ['certificate', 'status', 'constructor', '__proto__', 'toString']) {
    t.equal(documentKindOf(unknown), undefined, unknown)
  }
  t.doesNotThrow(() => checkFileCount('cv', 0))
  t.equal(refusal(() => checkFileCount('cv', 1))?.refusal, 'invalid', 'two cvs in one request')
  t.equal(refusal(() => checkFileCount('id_card', 1))?.refusal, 'invalid')
  t.doesNotThrow(() => checkFileCount('certificate', MAX_CERTIFICATES - 1))
  t.equal(refusal(() => checkFileCount('certificate', MAX_CERTIFICATES))?.refusal, 'invalid')

  t.same(planDocuments([], ['cv', 'certificate'], true), { replaced: [] })
  const noCv = refusal(() => planDocuments([], ['id_card'], true))
  t.equal(noCv?.refusal, 'invalid', 'creating without a cv')
  t.same(noCv?.errors, [{ field: 'cv', message: 'is required' }])
  t.equal(refusal(() => planDocuments([{ id: 'd1', kind: 'cv' }], [], false))?.refusal, 'invalid')
  const existing = [
    { id: 'cv1', kind: 'cv' as const },
    { id: 'id1', kind: 'id_card' as const },
    { id: 'c1', kind: 'certificate' as const },
  ]
  t.same(planDocuments(existing, ['cv'], false), { replaced: ['cv1'] }, 'a new cv replaces')
  t.same(planDocuments(existing, ['id_card', 'certificate'], false), { replaced: ['id1'] })
  t.same(
    planDocuments(existing, ['certificate', 'certificate', 'certificate', 'certificate'], false),
    {
      replaced: [],
    },
  )
  t.equal(
    refusal(() => planDocuments(existing, Array(5).fill('certificate'), false))?.refusal,
    'conflict',
    'a sixth certificate',
  )
  t.equal(refusal(() => checkRemovable('cv'))?.refusal, 'conflict')
  t.doesNotThrow(() => checkRemovable('id_card'))
  t.doesNotThrow(() => checkRemovable('certificate'))
})

t.test('statuses', async (t) => {
  t.equal(statusAfterOwnerChange('rejected'), 'pending', 'a change resubmits a rejected profile')
  t.equal(statusAfterOwnerChange('pending'), 'pending')
  t.equal(statusAfterOwnerChange('approved'), 'approved')

  for (const current of statuses) {
    t.same(reviewProfile('rejected', { current, cvStatus: 'pending', ownerRole: 'tutor' }), {
      changed: current !== 'rejected',
    })
    t.same(reviewProfile('approved', { current, cvStatus: 'approved', ownerRole: 'tutor' }), {
      changed: current !== 'approved',
    })
    t.same(reviewProfile('approved', { current, cvStatus: 'approved', ownerRole: undefined }), {
      changed: current !== 'approved',
    })
    for (const cvStatus of ['pending', 'rejected', undefined] as const) {
      t.equal(
        refusal(() => reviewProfile('approved', { current, cvStatus, ownerRole: 'tutor' }))
          ?.refusal,
        'conflict',
        `approve with a ${cvStatus} cv`,
      )
    }
    for (const ownerRole of ['student', 'admin'] as const) {
      t.equal(
        refusal(() => reviewProfile('approved', { current, cvStatus: 'approved', ownerRole }))
          ?.refusal,
        'conflict',
        `approve a ${ownerRole}'s profile`,
      )
    }
    t.same(statusAfterRoleChange(current, 'tutor'), { status: current, changed: false })
    for (const role of ['student', 'admin'] as const) {
      t.same(statusAfterRoleChange(current, role), {
        status: 'rejected',
        changed: current !== 'rejected',
      })
    }
  }
})
