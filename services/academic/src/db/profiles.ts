// Queries of tutor profiles: one by id, the browse with its filters and cursor paging, and the
// subjects. The indexes behind them and their query plans are in the README.
import { type Expression, type Kysely, type SqlBool, sql, type Transaction } from 'kysely'
import type { ProfileStatus, Visibility } from '../domain/profiles.ts'
import type { AcademicDatabase, TutorProfilesTable } from './schema.ts'

type Db = Kysely<AcademicDatabase> | Transaction<AcademicDatabase>

export type ProfileRow = TutorProfilesTable & { username: string | null; name: string | null }

function withUser(db: Db) {
  return db
    .selectFrom('tutor_profiles as p')
    .leftJoin('users as u', 'u.user_id', 'p.user_id')
    .selectAll('p')
    .select(['u.username', 'u.name'])
}

export function findProfile(db: Db, profileId: string): Promise<ProfileRow | undefined> {
  return withUser(db).where('p.id', '=', profileId).executeTakeFirst()
}

/** The profile row, locked for the rest of the transaction (every change of a profile takes it). */
export function lockProfile(
  trx: Transaction<AcademicDatabase>,
  profileId: string,
): Promise<TutorProfilesTable | undefined> {
  return trx
    .selectFrom('tutor_profiles')
    .selectAll()
    .where('id', '=', profileId)
    .forUpdate()
    .executeTakeFirst()
}

export function profileOfUser(db: Db, userId: string): Promise<{ id: string } | undefined> {
  return db
    .selectFrom('tutor_profiles')
    .select('id')
    .where('user_id', '=', userId)
    .executeTakeFirst()
}

/** Subjects of the profiles, alphabetically. */
export async function subjectsOf(
  db: Db,
  profileIds: readonly string[],
): Promise<Map<string, string[]>> {
  const bySubject = new Map<string, string[]>(profileIds.map((id) => [id, []]))
  if (profileIds.length === 0) return bySubject
  const rows = await db
    .selectFrom('tutor_subjects')
    .select(['profile_id', 'subject'])
    .where('profile_id', 'in', profileIds)
    .orderBy('profile_id')
    .orderBy('subject')
    .execute()
  for (const row of rows) bySubject.get(row.profile_id)?.push(row.subject)
  return bySubject
}

/** Replaces a profile's subjects. */
export async function setSubjects(
  trx: Transaction<AcademicDatabase>,
  profileId: string,
  subjects: readonly string[],
): Promise<void> {
  await trx.deleteFrom('tutor_subjects').where('profile_id', '=', profileId).execute()
  if (subjects.length === 0) return
  await trx
    .insertInto('tutor_subjects')
    .values(subjects.map((subject) => ({ profile_id: profileId, subject })))
    .execute()
}

export type BrowseOrder = 'newest' | 'rate_asc' | 'rate_desc'

/** Where the previous page ended: its last id, and its last rate when ordered by rate. */
export interface BrowseCursor {
  order: BrowseOrder
  id: string
  rate?: number
}

export interface BrowseFilters {
  visibility: Visibility
  userId?: string
  status?: ProfileStatus
  /** Normalised (lowercase). */
  subject?: string
  minRate?: number
  maxRate?: number
  /** Text searched in bio and subjects, case-insensitively. */
  q?: string
  order: BrowseOrder
  limit: number
  after?: BrowseCursor
}

/** `%`, `_` and the escape character itself match literally. */
function likeContains(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** The browse's query, one row more than a page (so the next page is known to exist). */
export function browseQuery(db: Db, f: BrowseFilters) {
  let query = withUser(db)
  if (f.subject !== undefined) {
    query = query
      .innerJoin('tutor_subjects as s', 's.profile_id', 'p.id')
      .where('s.subject', '=', f.subject)
  }
  if (!f.visibility.all) {
    const owner = f.visibility.alsoOwnedBy
    query =
      owner === undefined
        ? query.where('p.status', '=', 'approved')
        : query.where((eb) => eb.or([eb('p.status', '=', 'approved'), eb('p.user_id', '=', owner)]))
  }
  if (f.status !== undefined) query = query.where('p.status', '=', f.status)
  if (f.userId !== undefined) query = query.where('p.user_id', '=', f.userId)
  if (f.minRate !== undefined) query = query.where('p.hourly_rate', '>=', f.minRate)
  if (f.maxRate !== undefined) query = query.where('p.hourly_rate', '<=', f.maxRate)
  if (f.q !== undefined) {
    const pattern = likeContains(f.q)
    // The bio's collation is binary (utf8mb4_bin): LOWER makes the match case-insensitive.
    query = query.where((eb) =>
      eb.or([
        sql<SqlBool>`LOWER(p.bio) LIKE ${pattern}`,
        eb.exists(
          eb
            .selectFrom('tutor_subjects as qs')
            .select(sql`1`.as('one'))
            .whereRef('qs.profile_id', '=', 'p.id')
            .where('qs.subject', 'like', pattern),
        ),
      ]),
    )
  }
  const after = f.after
  if (f.order === 'newest') {
    // With a subject, the same id read from the subject's index, which is then walked in order
    // (ordering by p.id would sort the join's result instead).
    const id = sql.ref<string>(f.subject === undefined ? 'p.id' : 's.profile_id')
    if (after) query = query.where(id, '<', after.id)
    query = query.orderBy(id, 'desc')
  } else {
    const up = f.order === 'rate_asc'
    if (after?.rate !== undefined) {
      const rate = after.rate
      // Written out rather than as a row comparison, which MySQL turns into an index range
      // less reliably.
      query = query.where(
        (eb): Expression<SqlBool> =>
          eb.or([
            eb('p.hourly_rate', up ? '>' : '<', rate),
            eb.and([eb('p.hourly_rate', '=', rate), eb('p.id', up ? '>' : '<', after.id)]),
          ]),
      )
    }
    const direction = up ? 'asc' : 'desc'
    query = query.orderBy('p.hourly_rate', direction).orderBy('p.id', direction)
  }
  return query.limit(f.limit + 1)
}

/** One page of profiles in the order asked for, and the cursor of the next page (if any). */
export async function browseProfiles(
  db: Db,
  f: BrowseFilters,
): Promise<{ rows: ProfileRow[]; next: BrowseCursor | undefined }> {
  const rows = await browseQuery(db, f).execute()
  const page = rows.slice(0, f.limit)
  const last = page.at(-1)
  const next =
    rows.length > f.limit && last
      ? { order: f.order, id: last.id, ...(f.order === 'newest' ? {} : { rate: last.hourly_rate }) }
      : undefined
  return { rows: page, next }
}

export async function insertProfile(db: Db, profile: TutorProfilesTable): Promise<void> {
  await db.insertInto('tutor_profiles').values(profile).execute()
}

export async function updateProfileRow(
  db: Db,
  profileId: string,
  changes: Partial<TutorProfilesTable>,
): Promise<void> {
  await db.updateTable('tutor_profiles').set(changes).where('id', '=', profileId).execute()
}

/** The profile of a user, locked for the rest of the transaction (a role change takes it). */
export function lockProfileOfUser(
  trx: Transaction<AcademicDatabase>,
  userId: string,
): Promise<TutorProfilesTable | undefined> {
  return trx
    .selectFrom('tutor_profiles')
    .selectAll()
    .where('user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst()
}

/** A profile's rows: its documents, its subjects, then itself. */
export async function deleteProfileRows(db: Db, profileId: string): Promise<void> {
  await db.deleteFrom('tutor_documents').where('profile_id', '=', profileId).execute()
  await db.deleteFrom('tutor_subjects').where('profile_id', '=', profileId).execute()
  await db.deleteFrom('tutor_profiles').where('id', '=', profileId).execute()
}
