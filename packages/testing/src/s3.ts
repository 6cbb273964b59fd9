// Where a test's S3 comes from: a running server named in the environment (TEST_S3_ENDPOINT,
// TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY), otherwise a MinIO container on the host network
// (the image MINIO_IMAGE names) when the process's MySQL and RabbitMQ come from containers
// too, otherwise s3rver in this process. The server is started once per process; every
// test gets a bucket of its own, emptied and removed when the test ends.
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Client } from 'minio'
import {
  containersChosen,
  type HostContainerSpec,
  startHostContainer,
  testImages,
} from './containers.ts'
import type { TestContext } from './context.ts'

export interface TestS3 {
  /** The server's origin, e.g. `http://127.0.0.1:9000`; buckets are addressed path-style. */
  endpoint: string
  accessKey: string
  secretKey: string
  /** A bucket of the test's own, created empty and removed when the test ends. */
  bucket: string
  region: string
  /** Where the server came from: the environment, a MinIO container or in-process s3rver. */
  source: S3Source
}

export type S3Source = 'env' | 'minio-container' | 's3rver'

type S3Server = Omit<TestS3, 'bucket'>

const region = 'us-east-1'

let server: Promise<S3Server> | undefined

/** The S3 server of this process, started on first use. */
export function s3Server(): Promise<S3Server> {
  server ??= startS3()
  return server
}

async function startS3(): Promise<S3Server> {
  const endpoint = process.env.TEST_S3_ENDPOINT
  if (endpoint) {
    const accessKey = process.env.TEST_S3_ACCESS_KEY
    const secretKey = process.env.TEST_S3_SECRET_KEY
    if (!accessKey || !secretKey) {
      throw new Error('TEST_S3_ENDPOINT is set: set TEST_S3_ACCESS_KEY and TEST_S3_SECRET_KEY too')
    }
    return {
      endpoint: new URL(endpoint).origin,
      accessKey,
      secretKey,
      region: process.env.TEST_S3_REGION || region,
      source: 'env',
    }
  }
  if (await containersChosen()) return startMinioContainer()
  return startS3rver()
}

/** MinIO on the host network with these credentials, on two free ports (API, console). */
export function minioContainer(accessKey: string, secretKey: string): HostContainerSpec {
  return {
    image: testImages.minio(),
    ports: 2,
    configure: ([api, consolePort]) => ({
      environment: { MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey },
      command: [
        'server',
        '/data',
        '--address',
        `127.0.0.1:${api}`,
        '--console-address',
        `127.0.0.1:${consolePort}`,
      ],
      readyLog: new RegExp(`API: .*127\\.0\\.0\\.1:${api}\\b`),
    }),
  }
}

async function startMinioContainer(): Promise<S3Server> {
  const accessKey = 'test-access-key'
  const secretKey = 'test-secret-key'
  const container = await startHostContainer(minioContainer(accessKey, secretKey))
  return {
    endpoint: `http://127.0.0.1:${container.ports[0]}`,
    accessKey,
    secretKey,
    region,
    source: 'minio-container',
  }
}

interface S3rverInstance {
  run(): Promise<AddressInfo>
  httpServer: Server
}

type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance

async function startS3rver(): Promise<S3Server> {
  // s3rver is CommonJS without type declarations.
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass
  const directory = await mkdtemp(path.join(tmpdir(), 'tms-s3rver-'))
  process.once('exit', () => rmSync(directory, { recursive: true, force: true }))
  const instance = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    vhostBuckets: false,
  })
  const { port } = await instance.run()
  // The server lives as long as the process has other work: it must not keep a test file's
  // process alive once the tests are done.
  instance.httpServer.unref()
  instance.httpServer.on('connection', (socket: Socket) => socket.unref())
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    region,
    source: 's3rver',
  }
}

/** A bucket name of the test's own: lowercase letters, digits and hyphens, 3-63 characters. */
export function uniqueBucketName(prefix = 't'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`.toLowerCase().slice(0, 63)
}

/** A MinIO client for the server, addressing buckets path-style. */
export function s3Client(s3: Omit<TestS3, 'bucket' | 'source'>): Client {
  const url = new URL(s3.endpoint)
  const useSSL = url.protocol === 'https:'
  return new Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    region: s3.region,
    pathStyle: true,
  })
}

/** Deletes every object of the bucket, then the bucket. */
async function removeBucket(client: Client, bucket: string): Promise<void> {
  if (!(await client.bucketExists(bucket))) return
  for (;;) {
    const names: string[] = []
    for await (const item of client.listObjectsV2(bucket, '', true)) {
      if (item.name) names.push(item.name)
    }
    if (names.length === 0) break
    const failed = (await client.removeObjects(bucket, names)).filter((r) => r?.Error)
    if (failed.length > 0) {
      throw new Error(`could not empty bucket ${bucket}: ${JSON.stringify(failed[0])}`)
    }
  }
  await client.removeBucket(bucket)
}

/**
 * An S3 endpoint and a bucket of the test's own, created empty and removed (with whatever is
 * in it) when the test ends.
 */
export async function createTestS3(t: TestContext): Promise<TestS3> {
  const s3 = { ...(await s3Server()), bucket: uniqueBucketName() }
  const client = s3Client(s3)
  await client.makeBucket(s3.bucket, s3.region)
  t.teardown(() => removeBucket(client, s3.bucket))
  return s3
}
