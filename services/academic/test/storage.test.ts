// Both document-store drivers pass the same tests: the local disk under a directory of the
// test's own, and S3 against the harness's server (MinIO, or in-process s3rver without Docker).
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import {
  createTestS3,
  eventually,
  s3Server,
  type TestContext,
  uniqueBucketName,
} from '@tms/testing'
import t from 'tap'
import { LocalDocumentStore } from '../src/storage/local.ts'
import { S3DocumentStore } from '../src/storage/s3.ts'
import { type DocumentStore, newStorageKey } from '../src/storage/store.ts'

async function readAll(store: DocumentStore, key: string): Promise<Buffer | undefined> {
  const found = await store.open(key)
  if (!found) return undefined
  const chunks: Buffer[] = []
  for await (const chunk of found.stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The bytes in 64 KiB chunks, produced as they are read. */
function chunked(bytes: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += 65536) yield bytes.subarray(at, at + 65536)
    })(),
  )
}

/** A source that gives the first `failAt` bytes, then fails as a broken disk or socket would. */
function failingHalfway(bytes: Buffer, failAt: number): Readable {
  return Readable.from(
    (async function* () {
      yield bytes.subarray(0, failAt)
      throw new Error('the source broke halfway')
    })(),
  )
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'academic-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

interface Driver {
  make(t: TestContext): Promise<DocumentStore>
  /** Files left in the store's temporary directory (local only). */
  leftovers(store: DocumentStore): Promise<string[]>
}

const drivers: Record<string, Driver> = {
  local: {
    async make(t) {
      const store = new LocalDocumentStore(await tempDir(t))
      await store.init()
      return store
    },
    leftovers: (store) => readdir((store as LocalDocumentStore).tmpDir),
  },
  s3: {
    async make(t) {
      const s3 = await createTestS3(t)
      const store = new S3DocumentStore(s3)
      t.teardown(() => store.close())
      await store.init()
      return store
    },
    leftovers: async () => [],
  },
}

const pdf = (size: number) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(size - 9)])

for (const [name, driver] of Object.entries(drivers)) {
  t.test(`${name} driver`, async (t) => {
    const store = await driver.make(t)
    t.equal(store.driver, name)
    await store.check()

    t.test('stores, streams back byte for byte, and deletes', async (t) => {
      const bytes = pdf(3 * 1024 * 1024 + 17)
      const key = newStorageKey()
      await store.put(key, chunked(bytes), { size: bytes.length, contentType: 'application/pdf' })
      const back = await readAll(store, key)
      t.ok(back?.equals(bytes), 'the same bytes')
      await store.delete(key)
      t.equal(await store.open(key), undefined, 'gone after delete')
      await store.delete(key)
      t.pass('deleting an absent object is no error')
      t.same(await driver.leftovers(store), [], 'no temporary file left')
    })

    t.test('a source failing halfway leaves nothing', async (t) => {
      const bytes = pdf(2 * 1024 * 1024)
      const key = newStorageKey()
      await t.rejects(
        store.put(key, failingHalfway(bytes, 1024 * 1024), {
          size: bytes.length,
          contentType: 'application/pdf',
        }),
        /broke halfway/,
      )
      // The S3 stand-in (s3rver) writes a PUT's bytes while they arrive and drops them after
      // an abort in its own time; S3 and MinIO never store a PUT cut short.
      await eventually(
        async () => {
          const found = await store.open(key)
          found?.stream.destroy()
          return found === undefined
        },
        { what: 'no object under the key' },
      )
      t.pass('no object under the key')
      t.same(await driver.leftovers(store), [], 'no temporary file left')
    })

    t.test('a source shorter or longer than declared is refused and leaves nothing', async (t) => {
      const bytes = pdf(100_000)
      for (const declared of [bytes.length + 1, bytes.length - 1]) {
        const key = newStorageKey()
        await t.rejects(
          store.put(key, chunked(bytes), { size: declared, contentType: 'application/pdf' }),
        )
        t.equal(await store.open(key), undefined, `declared ${declared}: nothing stored`)
      }
      t.same(await driver.leftovers(store), [])
    })

    t.test('stores a spooled file', async (t) => {
      const bytes = pdf(500_000)
      const file = path.join(await tempDir(t), 'spooled.upload')
      await writeFile(file, bytes)
      const key = newStorageKey()
      await store.putFile(key, file, { size: bytes.length, contentType: 'application/pdf' })
      t.ok((await readAll(store, key))?.equals(bytes))
    })

    t.test('only generated keys reach the driver', async (t) => {
      for (const key of ['../../etc/passwd', 'a/b', '', 'CV.pdf', `${newStorageKey()}/x`]) {
        await t.rejects(
          store.put(key, chunked(Buffer.from('%PDF-1.7')), {
            size: 8,
            contentType: 'application/pdf',
          }),
          /not a storage key/,
          JSON.stringify(key),
        )
        await t.rejects(store.open(key), /not a storage key/)
        await t.rejects(store.delete(key), /not a storage key/)
      }
    })
  })
}

t.test('s3: the bucket is made when absent, and objects are private', async (t) => {
  const server = await s3Server()
  const bucket = uniqueBucketName('academic')
  const store = new S3DocumentStore({ ...server, bucket })
  t.teardown(async () => {
    for await (const item of store.client.listObjectsV2(bucket, '', true)) {
      if (item.name) await store.client.removeObject(bucket, item.name)
    }
    if (await store.client.bucketExists(bucket)) await store.client.removeBucket(bucket)
    store.close()
  })
  await t.rejects(store.check(), /does not exist/, 'not ready before init')
  await store.init()
  t.ok(await store.client.bucketExists(bucket), 'made')
  await store.init()
  t.pass('init again is fine (several replicas start)')
  await store.check()

  const key = newStorageKey()
  const bytes = pdf(1000)
  await store.put(key, chunked(bytes), { size: bytes.length, contentType: 'application/pdf' })
  const anonymous = await fetch(`${server.endpoint}/${bucket}/${store.objectName(key)}`)
  const body = await anonymous.text()
  t.comment(`anonymous GET on ${server.source}: ${anonymous.status}`)
  if (server.source === 's3rver') {
    // s3rver checks signatures but has no access control at all: nothing to show here.
    t.pass('s3rver serves unsigned requests; MinIO refuses them (403)')
  } else {
    t.equal(anonymous.status, 403, 'an unsigned GET is refused')
    t.notOk(body.includes('%PDF'), 'and shows nothing of the document')
  }
  const policy = await store.client.getBucketPolicy(bucket).catch((err: Error) => err.message)
  t.notMatch(String(policy), /"Effect":"Allow"/, 'no policy opens the bucket')
  t.ok((await readAll(store, key))?.equals(bytes), 'the owner of the keys reads it')
})
