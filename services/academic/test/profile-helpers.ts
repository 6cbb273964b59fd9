// The academic service (helpers.ts) with a document store of the test's own, on either driver:
// the local disk under a temporary DATA_DIR, or S3 on a bucket of the test's own. Forms for
// inject(), users as auth's events leave them, and what the store and the tables hold.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Role } from '@tms/contracts'
import { createTestS3, s3Client, type TestContext, type TestS3 } from '@tms/testing'
import { upsertUser } from '../src/db/users.ts'
import { createDocumentStore } from '../src/storage/index.ts'
import { type DocumentStore, temporaryDirectory } from '../src/storage/store.ts'
import { sample } from './fixtures.ts'
import { type AcademicServiceOptions, academicService } from './helpers.ts'
import { storageSettings } from './service-process.ts'

export type Driver = 'local' | 's3'
export const drivers: Driver[] = ['local', 's3']

export interface ProfileServiceOptions extends AcademicServiceOptions {
  /** Wraps the store the configuration makes (to make it fail, say). */
  wrapStore?: (store: DocumentStore) => DocumentStore
}

export async function profileService(
  t: TestContext,
  driver: Driver,
  options: ProfileServiceOptions = {},
) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'academic-data-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const s3: TestS3 | undefined = driver === 's3' ? await createTestS3(t) : undefined
  const storage = storageSettings(dataDir, s3)
  const wrapped = options.wrapStore?.(createDocumentStore(storage))
  const service = await academicService(t, {
    ...options,
    config: { ...storage, ...options.config },
    overrides: { ...(wrapped ? { store: wrapped } : {}), ...options.overrides },
  })
  return {
    ...service,
    driver,
    dataDir,
    /** Every object in the store (listing is for tests: the service itself never lists). */
    async storedKeys(): Promise<string[]> {
      if (s3) {
        const names: string[] = []
        for await (const item of s3Client(s3).listObjectsV2(s3.bucket, '', true)) {
          if (item.name) names.push(item.name.replace(/^documents\//, ''))
        }
        return names.sort()
      }
      const root = path.join(dataDir, 'documents')
      const shards = await readdir(root).catch(() => [])
      const keys = await Promise.all(shards.map((d) => readdir(path.join(root, d))))
      return keys.flat().sort()
    },
    /** Spooled and partial files left in DATA_DIR/tmp. */
    temporaryFiles: () => readdir(temporaryDirectory(dataDir)).catch(() => []),
    /** Row counts of the profile and document tables. */
    async rows() {
      const count = async (
        table: 'tutor_profiles' | 'tutor_documents' | 'document_intents' | 'document_tombstones',
      ) =>
        Number(
          (
            await service.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        )
      return {
        profiles: await count('tutor_profiles'),
        documents: await count('tutor_documents'),
        intents: await count('document_intents'),
        tombstones: await count('document_tombstones'),
      }
    },
    /** A user as auth's events leave it here, and a token for it. */
    async user(id: string, role: Role) {
      await upsertUser(service.db, {
        user_id: id,
        username: `user_${id}`.toLowerCase().slice(0, 32),
        name: `Name ${id}`,
        role,
        updated_at: service.clock.now(),
      })
      return { id, role, token: await service.token({ id, role }) }
    },
  }
}

export type ProfileService = Awaited<ReturnType<typeof profileService>>

export interface FilePart {
  field: string
  bytes: Buffer
  filename?: string
  type?: string
}

/** A multipart/form-data body as a browser or curl sends it, for inject(). */
export async function multipartBody(
  fields: Record<string, string>,
  files: FilePart[],
): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  for (const f of files) {
    form.append(
      f.field,
      new Blob([f.bytes], { type: f.type ?? '' }),
      f.filename ?? `${f.field}.bin`,
    )
  }
  const request = new Request('http://form.invalid/', { method: 'POST', body: form })
  return {
    payload: Buffer.from(await request.arrayBuffer()),
    headers: { 'content-type': request.headers.get('content-type') as string },
  }
}

/** POSTs a form to a path of the service as the token's owner. */
export async function postForm(
  service: ProfileService,
  url: string,
  token: string | undefined,
  fields: Record<string, string>,
  files: FilePart[],
) {
  const body = await multipartBody(fields, files)
  return service.app.inject({
    method: 'POST',
    url,
    payload: body.payload,
    headers: { ...body.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  })
}

export const profileFields = {
  bio: 'I teach maths.',
  subjects: 'Maths, Physics',
  hourly_rate: '2500',
}

/** A tutor's profile made through the create form (a cv unless other files are given). */
export async function createProfile(
  service: ProfileService,
  token: string,
  files: FilePart[] = [{ field: 'cv', bytes: sample.pdf() }],
) {
  const res = await postForm(service, '/academic/tutor-profiles', token, profileFields, files)
  if (res.statusCode !== 201)
    throw new Error(`creating a profile answered ${res.statusCode}: ${res.body}`)
  return res.json()
}
