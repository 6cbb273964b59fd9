// The first source of a test S3: a running server named in the environment. Without one, this
// file starts its own s3rver and names it there, before the harness looks.
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createTestS3, s3Client } from '../src/index.ts'

if (!process.env.TEST_S3_ENDPOINT) {
  const S3rver = createRequire(import.meta.url)('s3rver')
  const directory = await mkdtemp(path.join(tmpdir(), 'tms-s3-env-'))
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true })
  const { port } = (await server.run()) as AddressInfo
  t.teardown(async () => {
    await server.close()
    await rm(directory, { recursive: true, force: true })
  })
  process.env.TEST_S3_ENDPOINT = `http://127.0.0.1:${port}/`
  process.env.TEST_S3_ACCESS_KEY = 'S3RVER'
  process.env.TEST_S3_SECRET_KEY = 'S3RVER'
}

t.test('TEST_S3_ENDPOINT names the server the tests use', async (t) => {
  const s3 = await createTestS3(t)
  t.equal(s3.source, 'env')
  t.equal(s3.endpoint, new URL(String(process.env.TEST_S3_ENDPOINT)).origin)
  t.equal(s3.accessKey, process.env.TEST_S3_ACCESS_KEY)
  t.equal(s3.secretKey, process.env.TEST_S3_SECRET_KEY)
  const client = s3Client(s3)
  await client.putObject(s3.bucket, 'a.txt', Buffer.from('hello'), 5)
  t.equal((await client.statObject(s3.bucket, 'a.txt')).size, 5)
})
