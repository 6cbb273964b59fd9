import { randomBytes } from 'node:crypto'
import t from 'tap'
import { containersChosen, createTestS3, s3Client } from '../src/index.ts'

t.test('a test S3 bucket stores objects and is removed at teardown', async (t) => {
  const body = randomBytes(4096)
  let bucket = ''
  let first = ''
  await t.test('inner', async (t) => {
    const s3 = await createTestS3(t)
    bucket = s3.bucket
    t.match(s3.endpoint, /^https?:\/\/[^/]+:\d+$/)
    t.match(s3.bucket, /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/)
    t.ok(s3.accessKey && s3.secretKey && s3.region, 'credentials and region')
    t.comment(`S3 from ${s3.source} at ${s3.endpoint}`)
    const expected = process.env.TEST_S3_ENDPOINT
      ? ['env']
      : (await containersChosen())
        ? ['minio-container']
        : ['s3rver']
    t.ok(expected.includes(s3.source), `source ${s3.source} is one of ${expected}`)

    const client = s3Client(s3)
    t.ok(await client.bucketExists(s3.bucket), 'the bucket exists')
    const listed: string[] = []
    for await (const item of client.listObjectsV2(s3.bucket, '', true))
      listed.push(String(item.name))
    t.same(listed, [], 'and starts empty')

    await client.putObject(s3.bucket, 'dir/hello.bin', body, body.length, {
      'Content-Type': 'application/octet-stream',
    })
    const chunks: Buffer[] = []
    for await (const chunk of await client.getObject(s3.bucket, 'dir/hello.bin')) {
      chunks.push(chunk as Buffer)
    }
    t.ok(Buffer.concat(chunks).equals(body), 'read back byte for byte')
    const stat = await client.statObject(s3.bucket, 'dir/hello.bin')
    t.equal(stat.size, body.length)
    t.match(stat.metaData['content-type'], 'application/octet-stream')
    await t.rejects(client.statObject(s3.bucket, 'missing'), { code: 'NotFound' })

    // A second bucket in the same test is another bucket on the same server.
    const other = await createTestS3(t)
    first = other.bucket
    t.not(other.bucket, s3.bucket)
    t.equal(other.endpoint, s3.endpoint, 'one server per process')
    await client.putObject(other.bucket, 'x.txt', Buffer.from('x'), 1)
  })
  t.ok(bucket, 'the inner test ran')
  const s3 = await createTestS3(t)
  const client = s3Client(s3)
  t.notOk(await client.bucketExists(bucket), 'the bucket is gone after the inner test')
  t.notOk(await client.bucketExists(first), 'and so is the second one, objects and all')
})
