// The rules of tutor profiles and their documents, without I/O: who sees and changes what, the
// fields of a profile, which files a profile holds, and how reviews move the statuses.
import type { Role } from '@tms/contracts'

export type ReviewStatus = 'pending' | 'approved' | 'rejected'
export type ProfileStatus = ReviewStatus
export type DocumentStatus = ReviewStatus
/** What an admin may decide. */
export type ReviewDecision = 'approved' | 'rejected'
export type DocumentKind = 'cv' | 'id_card' | 'certificate'

export const MAX_CERTIFICATES = 5
export const MAX_SUBJECTS = 20
export const MAX_SUBJECT_LENGTH = 50
export const MAX_BIO_LENGTH = 5000
export const MAX_REVIEW_NOTE_LENGTH = 1000
/** Minor units per hour: at least 1 (a session always costs something), at most 100 000.00. */
export const MIN_HOURLY_RATE = 1
export const MAX_HOURLY_RATE = 10_000_000

export interface FieldError {
  field: string
  message: string
}

/**
 * How a rule refuses: `invalid` input (naming the fields), `forbidden` for the caller's role,
 * `hidden` (missing, or not the caller's to know of), a `conflict` with the current state.
 * routes/problems.ts says which HTTP status each is.
 */
export type Refusal = 'invalid' | 'forbidden' | 'hidden' | 'conflict'

export class RuleViolation extends Error {
  override name = 'RuleViolation'
  readonly refusal: Refusal
  readonly errors: FieldError[] | undefined
  constructor(refusal: Refusal, detail: string, errors?: FieldError[]) {
    super(detail)
    this.refusal = refusal
    this.errors = errors
  }
}

/** One tutor, one profile. */
export class ProfileExistsError extends Error {
  override name = 'ProfileExistsError'
  constructor() {
    super('this tutor has a profile already; change it instead')
  }
}

/**
 * An upload that took longer than the sweep's grace period: the sweep removed its objects, so
 * it is not recorded. Sending it again works.
 */
export class UploadDiscardedError extends Error {
  override name = 'UploadDiscardedError'
  constructor() {
    super('the upload took too long and was discarded; send it again')
  }
}

/** The document store failed (unreachable, full): the request did not happen; try again. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
  constructor(cause: unknown) {
    super('the document store is not available; try again shortly', { cause })
  }
}

// ---------------------------------------------------------------------------------------------
// Who may do what

export interface Caller {
  id: string
  role: Role
}

/**
 * How a caller stands towards a profile: `admin` (anyone's), `owner` (a tutor's own), `viewer`
 * (may see it because it is approved and its owner still a tutor), `none` (must not learn that
 * it exists: 404).
 */
export type Standing = 'admin' | 'owner' | 'viewer' | 'none'

export interface ProfileFacts {
  user_id: string
  status: ProfileStatus
}

/**
 * The role a caller acts with here. The token's, when the users copy (kept from auth's events)
 * agrees or has not heard of the account yet; an admin only when the copy says admin too, as in
 * the wallet. A token whose role the copy contradicts (changed within the token's 15 minutes)
 * acts as a student: the role with no rights over profiles.
 */
export function actingRole(tokenRole: Role, knownRole: Role | undefined): Role {
  if (knownRole === undefined) return tokenRole === 'admin' ? 'student' : tokenRole
  return knownRole === tokenRole ? tokenRole : 'student'
}

export function standing(caller: Caller | null, profile: ProfileFacts): Standing {
  if (caller?.role === 'admin') return 'admin'
  if (caller?.role === 'tutor' && caller.id === profile.user_id) return 'owner'
  return profile.status === 'approved' ? 'viewer' : 'none'
}

/** What a browse may show a caller (SPEC: anonymous and students approved only, tutors also their own, admins all). */
export type Visibility = { all: true } | { all: false; alsoOwnedBy: string | undefined }

export function browseVisibility(caller: Caller | null): Visibility {
  if (caller?.role === 'admin') return { all: true }
  return { all: false, alsoOwnedBy: caller?.role === 'tutor' ? caller.id : undefined }
}

/**
 * A student may never change a profile or its documents: 403 before any profile is looked up,
 * so that the answer is the same whether the profile exists or not.
 */
export function mayChangeProfiles(caller: Caller): void {
  if (caller.role === 'student') {
    throw new RuleViolation('forbidden', 'tutor profiles are changed by their tutor or an admin')
  }
}

/**
 * Changing a profile or its documents: an admin anyone's, a tutor their own. A student may never
 * (403, mayChangeProfiles); a tutor touching another's profile learns nothing of it (404).
 */
export function mayChange(caller: Caller, profile: ProfileFacts): void {
  mayChangeProfiles(caller)
  const s = standing(caller, profile)
  if (s === 'admin' || s === 'owner') return
  throw new RuleViolation('hidden', 'no such tutor profile')
}

/** The documents of a profile (the files and their list) are for its owner and admins only. */
export function maySeeDocuments(s: Standing): boolean {
  return s === 'admin' || s === 'owner'
}

/** Fields the owner edits; an admin may edit them too and, besides, review. */
const ownerFields = ['bio', 'subjects', 'hourly_rate'] as const
const reviewFields = ['status', 'review_note'] as const

/** Refuses (400, naming each) the fields a caller of this standing may not set. */
export function checkEditableFields(s: 'admin' | 'owner', fields: readonly string[]): void {
  const allowed: readonly string[] = s === 'admin' ? [...ownerFields, ...reviewFields] : ownerFields
  const refused = fields.filter((f) => !allowed.includes(f))
  if (refused.length > 0) {
    throw new RuleViolation(
      'invalid',
      s === 'owner'
        ? 'a tutor edits bio, subjects and hourly_rate; reviews are for admins'
        : 'unknown fields',
      refused.map((field) => ({ field, message: 'is not an accepted field' })),
    )
  }
  if (s === 'admin' && fields.includes('review_note') && !fields.includes('status')) {
    throw new RuleViolation('invalid', 'a review_note comes with the status it explains', [
      { field: 'status', message: 'is required with review_note' },
    ])
  }
}

// ---------------------------------------------------------------------------------------------
// Profile fields

/**
 * Subjects from a comma-separated list: trimmed, inner spaces collapsed, lowercase (so the
 * subject filter matches however it was typed), duplicates dropped, order kept.
 */
export function parseSubjects(text: string): string[] {
  const errors: FieldError[] = []
  const subjects: string[] = []
  for (const raw of text.split(',')) {
    const subject = raw.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase()
    if (subject === '') continue
    if (/[\p{Cc}\p{Cf}]/u.test(subject)) {
      errors.push({ field: 'subjects', message: 'contains a control character' })
    } else if (Array.from(subject).length > MAX_SUBJECT_LENGTH) {
      errors.push({
        field: 'subjects',
        message: `a subject has at most ${MAX_SUBJECT_LENGTH} characters`,
      })
    } else if (!subjects.includes(subject)) {
      subjects.push(subject)
    }
  }
  if (errors.length === 0 && subjects.length === 0) {
    errors.push({ field: 'subjects', message: 'needs at least one subject' })
  }
  if (subjects.length > MAX_SUBJECTS) {
    errors.push({ field: 'subjects', message: `at most ${MAX_SUBJECTS} subjects` })
  }
  if (errors.length > 0) throw new RuleViolation('invalid', 'the subjects are not valid', errors)
  return subjects
}

/** One subject of the browse filter, normalised as stored. */
export function normaliseSubject(text: string): string {
  return text.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase()
}

/** A whole number of minor units, written as digits (a form field is text). */
export function parseHourlyRate(value: string | number): number {
  const text = String(value).trim()
  const rate = /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN
  if (!(rate >= MIN_HOURLY_RATE && rate <= MAX_HOURLY_RATE)) {
    throw new RuleViolation('invalid', 'the hourly rate is not valid', [
      {
        field: 'hourly_rate',
        message: `must be a whole number of minor units from ${MIN_HOURLY_RATE} to ${MAX_HOURLY_RATE}`,
      },
    ])
  }
  return rate
}

export function parseBio(text: string): string {
  const bio = text.normalize('NFC').trim()
  if (Array.from(bio).length > MAX_BIO_LENGTH || /[\p{Cc}]/u.test(bio.replace(/[\n\r\t]/g, ''))) {
    throw new RuleViolation('invalid', 'the bio is not valid', [
      {
        field: 'bio',
        message: `at most ${MAX_BIO_LENGTH} characters, without control characters`,
      },
    ])
  }
  return bio
}

/** The deployment has one currency; a profile may name it, never another. */
export function checkCurrency(given: string | undefined, deployment: string): string {
  if (given === undefined || given.trim().toLowerCase() === deployment) return deployment
  throw new RuleViolation('invalid', `this deployment works in ${deployment}`, [
    { field: 'currency', message: `must be ${deployment}` },
  ])
}

// ---------------------------------------------------------------------------------------------
// Documents

/** The form fields that carry files, and the kind of document each makes. */
export const fileFields: Readonly<Record<string, DocumentKind>> = {
  cv: 'cv',
  id_card: 'id_card',
  certificates: 'certificate',
}

export function documentKindOf(field: string): DocumentKind | undefined {
  return Object.hasOwn(fileFields, field) ? fileFields[field] : undefined
}

/** The most files of each kind one request may carry. */
export const filesPerRequest: Readonly<Record<DocumentKind, number>> = {
  cv: 1,
  id_card: 1,
  certificate: MAX_CERTIFICATES,
}

/** Refuses a file beyond what one request may carry (400); call before storing it. */
export function checkFileCount(kind: DocumentKind, alreadyInRequest: number): void {
  if (alreadyInRequest >= filesPerRequest[kind]) {
    const field = kind === 'certificate' ? 'certificates' : kind
    throw new RuleViolation('invalid', `too many files in ${field}`, [
      { field, message: `at most ${filesPerRequest[kind]} per request` },
    ])
  }
}

export interface DocumentPlan {
  /** Existing documents the new ones replace (a new cv or id_card replaces the old one). */
  replaced: string[]
}

/**
 * What adding `incoming` documents to a profile that has `existing` does: a profile has one cv,
 * at most one id card and at most five certificates; a new cv or id card replaces the current
 * one. Creating a profile needs a cv (400); more than five certificates in all is 409.
 */
export function planDocuments(
  existing: readonly { id: string; kind: DocumentKind }[],
  incoming: readonly DocumentKind[],
  creating: boolean,
): DocumentPlan {
  if (creating && !incoming.includes('cv')) {
    throw new RuleViolation('invalid', 'a tutor profile needs a cv', [
      { field: 'cv', message: 'is required' },
    ])
  }
  if (!creating && incoming.length === 0) {
    throw new RuleViolation('invalid', 'no document was sent', [
      { field: 'cv', message: 'send cv, id_card or certificates' },
    ])
  }
  const replaced = existing
    .filter((d) => d.kind !== 'certificate' && incoming.includes(d.kind))
    .map((d) => d.id)
  const certificates =
    existing.filter((d) => d.kind === 'certificate').length +
    incoming.filter((k) => k === 'certificate').length
  if (certificates > MAX_CERTIFICATES) {
    throw new RuleViolation(
      'conflict',
      `a profile holds at most ${MAX_CERTIFICATES} certificates; remove one first`,
    )
  }
  return { replaced }
}

/** A document may be removed, except the cv: it is replaced by uploading another. */
export function checkRemovable(kind: DocumentKind): void {
  if (kind === 'cv') {
    throw new RuleViolation('conflict', 'a profile always has a cv: upload a new one to replace it')
  }
}

// ---------------------------------------------------------------------------------------------
// Statuses

/**
 * The owner's change of a rejected profile (fields or documents) is its resubmission: back to
 * `pending` for review. A pending or approved profile keeps its status.
 */
export function statusAfterOwnerChange(current: ProfileStatus): ProfileStatus {
  return current === 'rejected' ? 'pending' : current
}

export interface ReviewFacts {
  current: ProfileStatus
  /** The status of the profile's cv. */
  cvStatus: DocumentStatus | undefined
  /** The owner's role as the service knows it, undefined when not known yet. */
  ownerRole: Role | undefined
}

/**
 * An admin's decision on a profile. Approving needs an approved cv and an owner who is still a
 * tutor (409 otherwise); rejecting is always possible. Returns whether the status changes (an
 * event is published only then).
 */
export function reviewProfile(decision: ReviewDecision, facts: ReviewFacts): { changed: boolean } {
  if (decision === 'approved') {
    if (facts.ownerRole !== undefined && facts.ownerRole !== 'tutor') {
      throw new RuleViolation('conflict', 'the account is no longer a tutor; it cannot be approved')
    }
    if (facts.cvStatus !== 'approved') {
      throw new RuleViolation('conflict', 'approve the cv before the profile')
    }
  }
  return { changed: facts.current !== decision }
}

/**
 * A role change away from tutor: the profile stays but is rejected (so neither browse nor
 * booking treat it as approved), and a later approval needs a resubmission and a review.
 */
export function statusAfterRoleChange(
  current: ProfileStatus,
  newRole: Role,
): { status: ProfileStatus; changed: boolean } {
  if (newRole === 'tutor' || current === 'rejected') return { status: current, changed: false }
  return { status: 'rejected', changed: true }
}
