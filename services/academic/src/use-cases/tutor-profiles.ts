// What each tutor-profile endpoint does, between the HTTP routes (which read forms and bodies)
// and the database and store. Every change of a profile locks its row first, so concurrent
// edits, reviews, uploads and deletions of one profile happen one after another.
import type { Readable } from 'node:stream'
import type { Bus } from '@tms/bus'
import { isDuplicateKey, newId, transaction } from '@tms/db'
import type { Transaction } from 'kysely'
import type { Static } from 'typebox'
import type { DocumentTable } from '../db/document-tables.ts'
import {
  deleteDocuments,
  documentsOf,
  documentsOfProfiles,
  findDocument,
  insertDocuments,
  mark,
  unmark,
  updateDocumentRow,
} from '../db/documents.ts'
import {
  type BrowseCursor,
  browseProfiles,
  deleteProfileRows,
  findProfile,
  insertProfile,
  lockProfile,
  lockProfileOfUser,
  type ProfileRow,
  profileOfUser,
  setSubjects,
  subjectsOf,
  updateProfileRow,
} from '../db/profiles.ts'
import type { AcademicDatabase, TutorProfilesTable } from '../db/schema.ts'
import { findUser, lockUser } from '../db/users.ts'
import {
  actingRole,
  browseVisibility,
  type Caller,
  checkCurrency,
  checkEditableFields,
  checkRemovable,
  mayChange,
  mayChangeProfiles,
  maySeeDocuments,
  normaliseSubject,
  ProfileExistsError,
  parseBio,
  parseHourlyRate,
  parseSubjects,
  planDocuments,
  type ReviewDecision,
  RuleViolation,
  reviewProfile,
  type Standing,
  StoreUnavailableError,
  standing,
  statusAfterOwnerChange,
  statusAfterRoleChange,
  UploadDiscardedError,
} from '../domain/profiles.ts'
import type {
  BrowseQuery,
  DocumentViewType as DocumentView,
  ProfileViewType as ProfileView,
  UpdateBody,
} from '../routes/schemas/tutor-profiles.ts'
import type { FormReader, ReceivedFile, ReceivedForm } from '../routes/tutor-profiles-form.ts'
import { discardSpooled } from '../storage/upload.ts'
import type { AcademicDeps, Caller as TokenCaller } from './deps.ts'
import { discardUploads, removeObjects, storeUploads } from './document-objects.ts'

type Trx = Transaction<AcademicDatabase>

type ProfileDeps = AcademicDeps

/** The caller with the role it acts with here (domain/profiles.ts: actingRole). */
async function acting(deps: ProfileDeps, token: TokenCaller): Promise<Caller>
async function acting(deps: ProfileDeps, token: TokenCaller | null): Promise<Caller | null>
async function acting(deps: ProfileDeps, token: TokenCaller | null): Promise<Caller | null> {
  if (!token) return null
  const known = await findUser(deps.db, token.id)
  return { id: token.id, role: actingRole(token.role, known?.role) }
}

const noSuchProfile = () => new RuleViolation('hidden', 'no such tutor profile')
const noSuchDocument = () => new RuleViolation('hidden', 'no such document')

// ---------------------------------------------------------------------------------------------
// Views

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export function documentView(d: DocumentTable, s: Standing): DocumentView {
  return {
    id: d.id,
    kind: d.kind,
    filename: d.filename,
    content_type: d.content_type,
    size: d.size,
    sha256: d.sha256,
    status: d.status,
    review_note: d.review_note,
    // Which admin reviewed is for admins (as the wallet keeps the acting admin from the owner).
    ...(s === 'admin' ? { reviewed_by: d.reviewed_by } : {}),
    reviewed_at: iso(d.reviewed_at),
    created_at: d.created_at.toISOString(),
  }
}

/**
 * A profile as the caller may see it: the review and the documents only for its owner and
 * admins (others see an approved profile, nothing of how it got there).
 */
export function profileView(
  p: ProfileRow,
  subjects: string[],
  documents: DocumentTable[] | undefined,
  s: Standing,
): ProfileView {
  const view: ProfileView = {
    id: p.id,
    user_id: p.user_id,
    username: p.username,
    name: p.name,
    status: p.status,
    bio: p.bio,
    subjects,
    hourly_rate: p.hourly_rate,
    currency: p.currency,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  }
  if (maySeeDocuments(s)) {
    view.review_note = p.review_note
    if (s === 'admin') view.reviewed_by = p.reviewed_by
    view.reviewed_at = iso(p.reviewed_at)
    view.documents = (documents ?? []).map((d) => documentView(d, s))
  }
  return view
}

async function viewOf(deps: ProfileDeps, caller: Caller | null, profileId: string) {
  const p = await findProfile(deps.db, profileId)
  if (!p) throw noSuchProfile()
  const s = standing(caller, p)
  if (s === 'none') throw noSuchProfile()
  const subjects = (await subjectsOf(deps.db, [p.id])).get(p.id) ?? []
  const documents = maySeeDocuments(s) ? await documentsOf(deps.db, p.id) : undefined
  return profileView(p, subjects, documents, s)
}

export async function getProfile(deps: ProfileDeps, token: TokenCaller | null, profileId: string) {
  return viewOf(deps, await acting(deps, token), profileId)
}

/** A profile's documents: for its owner and admins; to anyone else the profile is not there. */
export async function listDocuments(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
): Promise<{ items: DocumentView[] }> {
  const caller = await acting(deps, token)
  const profile = await findProfile(deps.db, profileId)
  const s = profile ? standing(caller, profile) : 'none'
  if (!maySeeDocuments(s)) throw noSuchProfile()
  return { items: (await documentsOf(deps.db, profileId)).map((d) => documentView(d, s)) }
}

// ---------------------------------------------------------------------------------------------
// Browse

/**
 * One page of the profiles the caller may see (anonymous callers and students: approved ones;
 * tutors: also their own; admins: all), filtered and in the order asked for.
 */
export async function browse(
  deps: ProfileDeps,
  token: TokenCaller | null,
  query: Static<typeof BrowseQuery>,
) {
  const caller = await acting(deps, token)
  const order = query.sort ?? 'newest'
  if (
    query.min_rate !== undefined &&
    query.max_rate !== undefined &&
    query.min_rate > query.max_rate
  ) {
    throw new RuleViolation('invalid', 'min_rate is above max_rate', [
      { field: 'min_rate', message: 'must not be above max_rate' },
    ])
  }
  const q = query.q?.trim()
  const { rows, next } = await browseProfiles(deps.db, {
    visibility: browseVisibility(caller),
    userId: query.user_id,
    status: query.status,
    subject: query.subject === undefined ? undefined : normaliseSubject(query.subject),
    minRate: query.min_rate,
    maxRate: query.max_rate,
    q: q === '' ? undefined : q,
    order,
    limit: query.limit ?? 20,
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, order),
  })
  const ids = rows.map((r) => r.id)
  const subjects = await subjectsOf(deps.db, ids)
  const owned = rows.filter((r) => maySeeDocuments(standing(caller, r))).map((r) => r.id)
  const documents = await documentsOfProfiles(deps.db, owned)
  return {
    items: rows.map((r) =>
      profileView(
        r,
        subjects.get(r.id) ?? [],
        documents.filter((d) => d.profile_id === r.id),
        standing(caller, r),
      ),
    ),
    next_cursor: next ? encodeCursor(next) : null,
  }
}

export function encodeCursor(cursor: BrowseCursor): string {
  return Buffer.from(JSON.stringify([cursor.order, cursor.id, cursor.rate ?? null])).toString(
    'base64url',
  )
}

/** The cursor a previous page gave, for the same order; anything else is 400. */
export function decodeCursor(text: string, order: BrowseCursor['order']): BrowseCursor {
  const invalid = () =>
    new RuleViolation('invalid', 'the cursor is not one this list gave', [
      { field: 'cursor', message: 'is not valid for this order' },
    ])
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    throw invalid()
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid()
  const [o, id, rate] = parsed as unknown[]
  if (o !== order || typeof id !== 'string' || id.length < 1 || id.length > 64) throw invalid()
  if (order === 'newest') return { order, id }
  if (typeof rate !== 'number' || !Number.isSafeInteger(rate)) throw invalid()
  return { order, id, rate }
}

// ---------------------------------------------------------------------------------------------
// Create, add and remove documents

function fieldRequired(field: string) {
  return new RuleViolation('invalid', `${field} is required`, [{ field, message: 'is required' }])
}

/** Stores the form's files and records them with `record`, or leaves nothing behind. */
async function storeAndRecord<T>(
  deps: ProfileDeps,
  files: readonly ReceivedFile[],
  record: (trx: Trx, documents: DocumentTable[]) => Promise<T>,
): Promise<T> {
  const keys = await storeUploads(
    deps,
    files.map((f) => f.upload),
  )
  try {
    await deps.afterStore?.()
    return await transaction(deps.db, async (trx) => {
      const now = deps.clock.now()
      const documents = files.map(
        (f, i): DocumentTable => ({
          id: newId(),
          profile_id: '',
          kind: f.kind,
          storage_key: keys[i] as string,
          filename: f.filename,
          content_type: f.upload.type.contentType,
          size: f.upload.size,
          sha256: f.upload.sha256,
          status: 'pending',
          review_note: null,
          reviewed_by: null,
          reviewed_at: null,
          created_at: now,
          updated_at: now,
        }),
      )
      const result = await record(trx, documents)
      // Waits for a sweep holding these intents; if it deleted them (an upload older than the
      // grace period), its objects are gone and nothing may point at them.
      if ((await unmark(trx, 'document_intents', keys)) !== keys.length) {
        throw new UploadDiscardedError()
      }
      return result
    })
  } catch (err) {
    await discardUploads(deps, keys)
    throw err
  }
}

/**
 * Reads the form once the caller may send it (so a refused caller's files are never read), runs
 * `use` on it, and removes its spool files whatever happens.
 */
async function withForm<T>(
  read: FormReader,
  textFields: readonly string[],
  use: (form: ReceivedForm) => Promise<T>,
): Promise<T> {
  const form = await read(textFields)
  try {
    return await use(form)
  } finally {
    await discardSpooled(form.files.map((f) => f.upload))
  }
}

/**
 * A new profile from the form: a tutor's own, or an admin's for the tutor named by `user_id`.
 * A tutor who has one already is refused before the form is read.
 */
export async function createProfile(
  deps: ProfileDeps,
  token: TokenCaller,
  read: FormReader,
): Promise<ProfileView> {
  const caller = await acting(deps, token)
  if (caller.role === 'student') {
    throw new RuleViolation('forbidden', 'tutor profiles are made by tutors and admins')
  }
  if (caller.role === 'tutor' && (await profileOfUser(deps.db, caller.id))) {
    throw new ProfileExistsError()
  }
  const fields = ['bio', 'subjects', 'hourly_rate', 'currency']
  const textFields = caller.role === 'admin' ? [...fields, 'user_id'] : fields
  const profileId = await withForm(read, textFields, (form) => recordProfile(deps, caller, form))
  return viewOf(deps, caller, profileId)
}

async function recordProfile(
  deps: ProfileDeps,
  caller: Caller,
  form: ReceivedForm,
): Promise<string> {
  const f = form.fields
  const userId = caller.role === 'admin' ? f.user_id?.trim() : caller.id
  if (!userId) throw fieldRequired('user_id')
  const bio = parseBio(f.bio ?? '')
  if (f.subjects === undefined) throw fieldRequired('subjects')
  const subjects = parseSubjects(f.subjects)
  if (f.hourly_rate === undefined) throw fieldRequired('hourly_rate')
  const hourlyRate = parseHourlyRate(f.hourly_rate)
  const currency = checkCurrency(f.currency, deps.settings.currency)
  planDocuments(
    [],
    form.files.map((file) => file.kind),
    true,
  )
  const profileId = newId()
  try {
    await storeAndRecord(deps, form.files, async (trx, documents) => {
      // The account's role as the auth events left it, locked: a role change waits for this
      // profile and then rejects it, or has happened and refuses it here.
      const user = await lockUser(trx, userId)
      if (caller.role === 'admin' && !user) throw new RuleViolation('hidden', 'no such account')
      if (user && user.role !== 'tutor') {
        throw caller.role === 'admin'
          ? new RuleViolation('conflict', 'the account is not a tutor')
          : new RuleViolation('forbidden', 'your account is no longer a tutor')
      }
      const now = deps.clock.now()
      await insertProfile(trx, {
        id: profileId,
        user_id: userId,
        status: 'pending',
        bio,
        hourly_rate: hourlyRate,
        currency,
        review_note: null,
        reviewed_by: null,
        reviewed_at: null,
        created_at: now,
        updated_at: now,
      })
      await setSubjects(trx, profileId, subjects)
      await insertDocuments(trx, profileId, documents)
    })
  } catch (err) {
    if (isDuplicateKey(err)) throw new ProfileExistsError()
    throw err
  }
  return profileId
}

/** Loads and locks a profile the caller may change (else 403/404). */
async function changeable(trx: Trx, caller: Caller, profileId: string) {
  mayChangeProfiles(caller)
  const profile = await lockProfile(trx, profileId)
  if (!profile) throw noSuchProfile()
  mayChange(caller, profile)
  return profile
}

/** The owner's change resubmits a rejected profile. */
async function touch(trx: Trx, caller: Caller, profile: TutorProfilesTable, now: Date) {
  const status =
    standing(caller, profile) === 'owner' ? statusAfterOwnerChange(profile.status) : profile.status
  await updateProfileRow(trx, profile.id, { status, updated_at: now })
}

/**
 * Adds the form's documents; a new cv or id card replaces the current one, whose object is
 * deleted after the commit.
 */
export async function addDocuments(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
  read: FormReader,
): Promise<ProfileView> {
  const caller = await acting(deps, token)
  // Checked before the form is read, and again under the lock.
  mayChangeProfiles(caller)
  const found = await findProfile(deps.db, profileId)
  if (!found) throw noSuchProfile()
  mayChange(caller, found)
  await withForm(read, [], (form) => recordDocuments(deps, caller, profileId, form))
  return viewOf(deps, caller, profileId)
}

async function recordDocuments(
  deps: ProfileDeps,
  caller: Caller,
  profileId: string,
  form: ReceivedForm,
): Promise<void> {
  const incoming = form.files.map((f) => f.kind)
  planDocuments([], incoming, false)
  const replacedKeys = await storeAndRecord(deps, form.files, async (trx, documents) => {
    const profile = await changeable(trx, caller, profileId)
    const existing = await documentsOf(trx, profileId)
    const { replaced } = planDocuments(existing, incoming, false)
    const now = deps.clock.now()
    const keys = existing.filter((d) => replaced.includes(d.id)).map((d) => d.storage_key)
    if (replaced.length > 0) {
      await deleteDocuments(trx, replaced)
      await mark(trx, 'document_tombstones', keys, now)
    }
    await insertDocuments(trx, profileId, documents)
    await touch(trx, caller, profile, now)
    return keys
  })
  await removeObjects(deps, replacedKeys)
}

export async function removeDocument(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
  documentId: string,
): Promise<void> {
  const caller = await acting(deps, token)
  const key = await transaction(deps.db, async (trx) => {
    const profile = await changeable(trx, caller, profileId)
    const document = await findDocument(trx, profileId, documentId)
    if (!document) throw noSuchDocument()
    checkRemovable(document.kind)
    const now = deps.clock.now()
    await deleteDocuments(trx, [documentId])
    await mark(trx, 'document_tombstones', [document.storage_key], now)
    await touch(trx, caller, profile, now)
    return document.storage_key
  })
  await removeObjects(deps, [key])
}

/** Deletes the profile, its subjects and documents; their objects go after the commit. */
export async function deleteProfile(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
): Promise<void> {
  const caller = await acting(deps, token)
  const keys = await transaction(deps.db, async (trx) => {
    await changeable(trx, caller, profileId)
    const documents = await documentsOf(trx, profileId)
    const keys = documents.map((d) => d.storage_key)
    await mark(trx, 'document_tombstones', keys, deps.clock.now())
    await deleteProfileRows(trx, profileId)
    return keys
  })
  await removeObjects(deps, keys)
}

// ---------------------------------------------------------------------------------------------
// Edit and review

export type ProfileChanges = Static<typeof UpdateBody>

export async function updateProfile(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
  changes: ProfileChanges,
): Promise<ProfileView> {
  const caller = await acting(deps, token)
  const fields = Object.keys(changes).filter(
    (k) => changes[k as keyof ProfileChanges] !== undefined,
  )
  if (fields.length === 0) {
    throw new RuleViolation('invalid', 'nothing to change', [
      { field: 'body', message: 'send at least one field' },
    ])
  }
  await transaction(deps.db, async (trx) => {
    const profile = await changeable(trx, caller, profileId)
    const s = standing(caller, profile) as 'admin' | 'owner'
    checkEditableFields(s, fields)
    const now = deps.clock.now()
    const set: Partial<TutorProfilesTable> = { updated_at: now }
    if (changes.bio !== undefined) set.bio = parseBio(changes.bio)
    if (changes.hourly_rate !== undefined) set.hourly_rate = parseHourlyRate(changes.hourly_rate)
    if (changes.subjects !== undefined) {
      const list = Array.isArray(changes.subjects) ? changes.subjects.join(',') : changes.subjects
      await setSubjects(trx, profileId, parseSubjects(list))
    }
    if (s === 'owner') set.status = statusAfterOwnerChange(profile.status)
    if (changes.status !== undefined) {
      const cv = (await documentsOf(trx, profileId)).find((d) => d.kind === 'cv')
      const owner = await findUser(trx, profile.user_id)
      const { changed } = reviewProfile(changes.status, {
        current: profile.status,
        cvStatus: cv?.status,
        ownerRole: owner?.role,
      })
      Object.assign(set, {
        status: changes.status,
        review_note: changes.review_note ?? null,
        reviewed_by: caller.id,
        reviewed_at: now,
      })
      if (changed) {
        await deps.bus.enqueue(trx, `academic.tutor-profile.${changes.status}`, {
          profile_id: profile.id,
          user_id: profile.user_id,
          reviewed_by: caller.id,
          review_note: changes.review_note ?? null,
        })
      }
    }
    await updateProfileRow(trx, profileId, set)
  })
  return viewOf(deps, caller, profileId)
}

export async function reviewDocument(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
  documentId: string,
  decision: { status: ReviewDecision; review_note?: string | null },
): Promise<DocumentView> {
  const admin = await acting(deps, token)
  if (admin.role !== 'admin')
    throw new RuleViolation('forbidden', 'documents are reviewed by admins')
  return transaction(deps.db, async (trx) => {
    // The profile's lock orders this review with the profile's own (which reads the cv's).
    if (!(await lockProfile(trx, profileId))) throw noSuchProfile()
    const document = await findDocument(trx, profileId, documentId)
    if (!document) throw noSuchDocument()
    const now = deps.clock.now()
    const reviewed: DocumentTable = {
      ...document,
      status: decision.status,
      review_note: decision.review_note ?? null,
      reviewed_by: admin.id,
      reviewed_at: now,
      updated_at: now,
    }
    await updateDocumentRow(trx, documentId, {
      status: reviewed.status,
      review_note: reviewed.review_note,
      reviewed_by: reviewed.reviewed_by,
      reviewed_at: reviewed.reviewed_at,
      updated_at: now,
    })
    return documentView(reviewed, 'admin')
  })
}

// ---------------------------------------------------------------------------------------------
// Reading a document

export async function openDocument(
  deps: ProfileDeps,
  token: TokenCaller,
  profileId: string,
  documentId: string,
): Promise<{ document: DocumentTable; stream: Readable }> {
  const caller = await acting(deps, token)
  const profile = await findProfile(deps.db, profileId)
  if (!profile || !maySeeDocuments(standing(caller, profile))) throw noSuchDocument()
  const document = await findDocument(deps.db, profileId, documentId)
  if (!document) throw noSuchDocument()
  const found = await deps.store.open(document.storage_key).catch((err) => {
    throw new StoreUnavailableError(err)
  })
  if (!found) {
    // The scheme of db/documents.ts makes this impossible; say so loudly if it happens.
    deps.logger.error({ document_id: documentId }, 'a document row points at a missing object')
    throw noSuchDocument()
  }
  return { document, stream: found.stream }
}

// ---------------------------------------------------------------------------------------------
// Role changes (auth.user.role-changed, in the consumer's transaction)

/**
 * A tutor whose role is taken away stops being bookable: their profile is rejected (booking
 * reads tutor_profiles.status), with the admin who changed the role as reviewer, and the
 * rejection is published like any other.
 */
export async function profileAfterRoleChange(
  trx: Trx,
  bus: Pick<Bus<AcademicDatabase>, 'enqueue'>,
  change: { user_id: string; role: Caller['role']; changed_by: string },
  now: Date,
): Promise<void> {
  const profile = await lockProfileOfUser(trx, change.user_id)
  if (!profile) return
  const { status, changed } = statusAfterRoleChange(profile.status, change.role)
  if (!changed) return
  const note = `the account's role changed to ${change.role}`
  await updateProfileRow(trx, profile.id, {
    status,
    review_note: note,
    reviewed_by: change.changed_by,
    reviewed_at: now,
    updated_at: now,
  })
  await bus.enqueue(trx, 'academic.tutor-profile.rejected', {
    profile_id: profile.id,
    user_id: profile.user_id,
    reviewed_by: change.changed_by,
    review_note: note,
  })
}
