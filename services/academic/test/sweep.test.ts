// The store and the database in step: a crash between storing and committing (a service
// process killed with SIGKILL while its commit waits on a row lock) is cleaned up by the sweep;
// a commit that comes after the sweep took its upload records nothing; leftover tombstones are
// finished; two sweeps at once share the work; a sweep after downtime catches up in batches.

import { readdir } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { createDb, sql } from '@tms/db'
import { createLogger } from '@tms/logging'
import { eventually, holdLock, TestClock } from '@tms/testing'
import t from 'tap'
import { mark } from '../src/db/documents.ts'
import type { AcademicDatabase } from '../src/db/schema.ts'
import { createDocumentStore } from '../src/storage/index.ts'
import { type DocumentStore, newStorageKey, temporaryDirectory } from '../src/storage/store.ts'
import { sweepDocuments } from '../src/use-cases/document-objects.ts'
import { sample } from './fixtures.ts'
import {
  createProfile,
  drivers,
  multipartBody,
  postForm,
  profileFields,
  profileService,
} from './profile-helpers.ts'
import { serviceSetting, startServiceProcess } from './service-process.ts'

const HOUR = 60 * 60 * 1000
const logger = createLogger({ service: 'academic-test', level: 'silent' })

async function putSmall(store: DocumentStore, key: string) {
  const bytes = sample.pdf(100)
  await store.put(key, Readable.from([bytes]), {
    size: bytes.length,
    contentType: 'application/pdf',
  })
}

for (const driver of drivers) {
  t.test(`${driver}: a crash between storing and committing is swept`, async (t) => {
    const setting = await serviceSetting(t, driver)
    const service = await startServiceProcess(t, setting.env)
    const db = createDb<AcademicDatabase>(setting.databaseUrl)
    t.teardown(() => db.destroy())
    const store = createDocumentStore(setting.storage)
    t.teardown(() => store.close())
    const tutorId = 'tutor-crash'
    await db
      .insertInto('users')
      .values({
        user_id: tutorId,
        username: 'crash',
        name: null,
        role: 'tutor',
        updated_at: new Date(),
      })
      .execute()
    const token = await setting.issuer.mint({ sub: tutorId, role: 'tutor', username: 'crash' })

    // The commit's first step locks the tutor's users row; held here, the service stops there,
    // after both files are stored.
    const lock = holdLock(db, sql`SELECT * FROM users WHERE user_id = ${tutorId} FOR UPDATE`)
    await lock.locked
    const body = await multipartBody(profileFields, [
      { field: 'cv', bytes: sample.pdf(300_000) },
      { field: 'id_card', bytes: sample.png(200_000) },
    ])
    const upload = fetch(`${service.url}/academic/tutor-profiles`, {
      method: 'POST',
      headers: { ...body.headers, authorization: `Bearer ${token}` },
      body: body.payload,
    }).catch((err: Error) => err)
    const intents = async () =>
      (await db.selectFrom('document_intents').select('storage_key').execute()).map(
        (r) => r.storage_key,
      )
    const stored = async (keys: string[]) =>
      (await Promise.all(keys.map((k) => store.open(k)))).filter((found) => {
        found?.stream.destroy()
        return found !== undefined
      }).length
    await eventually(
      async () => {
        const k = await intents()
        return k.length === 2 && (await stored(k)) === 2
      },
      { what: 'both files stored, the commit waiting' },
    )
    await service.kill()
    lock.release()
    await lock.done
    t.type(await upload, Error, 'the client saw the connection die')

    const left = await intents()
    t.equal(left.length, 2, 'the crash left two intents')
    t.equal(await stored(left), 2, 'and their two objects')
    t.equal(
      Number(
        (
          await db
            .selectFrom('tutor_documents')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
      0,
      'and no document row',
    )

    // Within the grace period the sweep leaves them (an upload may still be running).
    const clock = new TestClock()
    const deps = { db, store, clock, logger }
    const options = { graceMs: HOUR, temporaryDir: temporaryDirectory(setting.storage.dataDir) }
    t.same(await sweepDocuments(deps, options), { intents: 0, tombstones: 0, temporaryFiles: 0 })
    clock.advance(HOUR + 60_000)
    const swept = await sweepDocuments(deps, options)
    t.equal(swept.intents, 2, 'then it removes both')
    t.same(await intents(), [])
    t.equal(await stored(left), 0, 'objects and all')
    t.same(
      await readdir(options.temporaryDir).catch(() => []),
      [],
      'and the spool files the crash left',
    )
  })
}

t.test('a commit after the sweep took its upload records nothing', async (t) => {
  let release: () => void = () => {}
  const stored = new Promise<void>((resolve) => {
    release = resolve
  })
  let reachedCommit: () => void = () => {}
  const waiting = new Promise<void>((resolve) => {
    reachedCommit = resolve
  })
  const service = await profileService(t, 'local', {
    overrides: {
      async afterStore() {
        reachedCommit()
        await stored
      },
    },
  })
  const tutor = await service.user('tutor-1', 'tutor')
  const upload = postForm(service, '/academic/tutor-profiles', tutor.token, profileFields, [
    { field: 'cv', bytes: sample.pdf() },
  ])
  await waiting
  t.equal((await service.storedKeys()).length, 1, 'stored, not yet committed')
  // The upload outlived the grace period (a stalled request, a paused process).
  service.clock.advance(service.config.documentSweepGraceMs + 1000)
  t.match(await service.job('document-sweep').run(), { intents: 1 })
  release()
  const res = await upload
  t.equal(res.statusCode, 503, 'refused: its objects are gone')
  t.equal(res.headers['retry-after'], '1')
  t.same(await service.rows(), { profiles: 0, documents: 0, intents: 0, tombstones: 0 })
  t.same(await service.storedKeys(), [])
})

t.test('objects whose deletion failed are finished by the sweep', async (t) => {
  let failing = true
  const service = await profileService(t, 'local', {
    wrapStore: (store) =>
      Object.assign(Object.create(store), {
        async delete(key: string) {
          if (failing) throw new Error('the store is unreachable')
          return store.delete(key)
        },
      }),
  })
  const tutor = await service.user('tutor-1', 'tutor')
  const created = await createProfile(service, tutor.token, [
    { field: 'cv', bytes: sample.pdf() },
    { field: 'id_card', bytes: sample.png() },
  ])
  const deleted = await service.app.inject({
    method: 'DELETE',
    url: `/academic/tutor-profiles/${created.id}`,
    headers: { authorization: `Bearer ${tutor.token}` },
  })
  t.equal(deleted.statusCode, 204, 'the deletion itself happened')
  t.same(await service.rows(), { profiles: 0, documents: 0, intents: 0, tombstones: 2 })
  t.equal((await service.storedKeys()).length, 2, 'the objects are still there')
  failing = false
  service.clock.advance(service.config.documentSweepGraceMs + 1000)
  t.match(await service.job('document-sweep').run(), { tombstones: 2 })
  t.same(await service.rows(), { profiles: 0, documents: 0, intents: 0, tombstones: 0 })
  t.same(await service.storedKeys(), [])
})

t.test('two sweeps at once share the work; each object is deleted once', async (t) => {
  const service = await profileService(t, 'local')
  const deletions = new Map<string, number>()
  const store = await storeOf(service)
  const watched: DocumentStore = Object.assign(Object.create(store), {
    async delete(key: string) {
      deletions.set(key, (deletions.get(key) ?? 0) + 1)
      // Long enough for the other sweep to be busy at the same time.
      await new Promise((resolve) => setImmediate(resolve))
      return store.delete(key)
    },
  })
  const old = new Date(service.clock.now().getTime() - 2 * HOUR)
  const intents = Array.from({ length: 150 }, () => newStorageKey())
  const tombstones = Array.from({ length: 150 }, () => newStorageKey())
  for (const key of [...intents, ...tombstones]) await putSmall(store, key)
  await mark(service.db, 'document_intents', intents, old)
  await mark(service.db, 'document_tombstones', tombstones, old)
  const deps = { db: service.db, store: watched, clock: service.clock, logger }
  const [a, b] = await Promise.all([
    sweepDocuments(deps, { graceMs: HOUR, batchSize: 10 }),
    sweepDocuments(deps, { graceMs: HOUR, batchSize: 10 }),
  ])
  t.comment(`sweep A: ${JSON.stringify(a)}, sweep B: ${JSON.stringify(b)}`)
  t.equal(a.intents + b.intents, 150, 'every intent once')
  t.equal(a.tombstones + b.tombstones, 150, 'every tombstone once')
  t.equal(deletions.size, 300)
  t.same([...new Set(deletions.values())], [1], 'no object deleted twice')
  t.same(await service.storedKeys(), [])
  t.same(await service.rows(), { profiles: 0, documents: 0, intents: 0, tombstones: 0 })
})

t.test('after downtime the sweep catches up in batches and leaves fresh uploads', async (t) => {
  const service = await profileService(t, 'local')
  const store = await storeOf(service)
  const now = service.clock.now()
  const stale = Array.from({ length: 250 }, () => newStorageKey())
  const fresh = Array.from({ length: 5 }, () => newStorageKey())
  for (const key of [...stale, ...fresh]) await putSmall(store, key)
  await mark(service.db, 'document_intents', stale, new Date(now.getTime() - 5 * 24 * HOUR))
  await mark(service.db, 'document_intents', fresh, now)
  const result = await sweepDocuments(
    { db: service.db, store, clock: service.clock, logger },
    { graceMs: HOUR, batchSize: 100 },
  )
  t.equal(result.intents, 250, 'three batches in one run')
  t.same(await service.storedKeys(), [...fresh].sort(), 'fresh uploads untouched')
  t.equal((await service.rows()).intents, 5)
})

/** The store the service was started with (the configuration's). */
async function storeOf(
  service: Awaited<ReturnType<typeof profileService>>,
): Promise<DocumentStore> {
  const store = createDocumentStore({
    dataDir: service.dataDir,
    s3Endpoint: undefined,
    s3AccessKey: undefined,
    s3SecretKey: undefined,
    s3Bucket: '',
    s3Region: '',
  })
  await store.init()
  return store
}
