// The academic service as a process of its own (node src/main.ts), listening on a port, with a
// database, broker prefix, data directory, token issuer and (for S3) bucket of the caller's
// own: for the crash test (it is killed) and the upload benchmark (its memory is measured).
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createBus } from '@tms/bus'
import { createDb } from '@tms/db'
import { createLogger } from '@tms/logging'
import {
  createTestBroker,
  createTestDatabase,
  createTestIssuer,
  createTestS3,
  eventually,
  type TestContext,
  type TestIssuer,
  type TestS3,
} from '@tms/testing'
import type { StoreSettings } from '../src/storage/index.ts'

const mainFile = new URL('../src/main.ts', import.meta.url).pathname

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface ServiceSetting {
  env: Record<string, string>
  databaseUrl: string
  issuer: TestIssuer
  /** The store's settings, to reach the same store from the test. */
  storage: StoreSettings
}

/** The store's settings (the configuration's fields) for a data directory and, for S3, a bucket. */
export function storageSettings(dataDir: string, s3: TestS3 | undefined): StoreSettings {
  return {
    dataDir,
    s3Endpoint: s3?.endpoint,
    s3AccessKey: s3?.accessKey,
    s3SecretKey: s3?.secretKey,
    s3Bucket: s3?.bucket ?? 'unused',
    s3Region: s3?.region ?? 'us-east-1',
  }
}

/** Everything a service process needs, each of the test's own and removed at teardown. */
export async function serviceSetting(
  t: TestContext,
  driver: 'local' | 's3',
): Promise<ServiceSetting> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'academic-process-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const databaseUrl = await createTestDatabase(t)
  const broker = await createTestBroker()
  t.teardown(async () => {
    // The service declared its queues under the prefix; they go with the test.
    const db = createDb(databaseUrl, { poolSize: 1 })
    const logger = createLogger({ service: 'academic-test', level: 'silent' })
    await createBus({ service: 'academic', url: broker.url, prefix: broker.prefix, db, logger })
      .deleteTopology()
      .finally(() => db.destroy())
  })
  const issuer = await createTestIssuer()
  const s3 = driver === 's3' ? await createTestS3(t) : undefined
  const storage = storageSettings(dataDir, s3)
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    AMQP_URL: broker.url,
    BUS_PREFIX: broker.prefix,
    JWKS_URL: await issuer.serveJwks(t),
    JWT_ISSUER: issuer.issuer,
    DATA_DIR: dataDir,
  }
  if (s3) {
    Object.assign(env, {
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
    })
  }
  return { env, databaseUrl, issuer, storage }
}

export interface ServiceProcess {
  url: string
  pid: number
  /** Ends it with SIGKILL: no shutdown of any kind, as a crash. */
  kill(): Promise<void>
}

/** Starts the service and waits until it is ready; stopped (SIGTERM) at teardown. */
export async function startServiceProcess(
  t: TestContext,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [mainFile], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // e.g. SERVICE_NODE_OPTIONS=--cpu-prof to profile the service, not its caller.
      NODE_OPTIONS: process.env.SERVICE_NODE_OPTIONS ?? '',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  const url = `http://127.0.0.1:${port}`
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`)
      return (await fetch(`${url}/health/ready`)).ok
    },
    { timeoutMs: 60_000, intervalMs: 100, what: 'the academic service to be ready' },
  )
  return {
    url,
    pid: child.pid as number,
    async kill() {
      child.kill('SIGKILL')
      await exited
    },
  }
}
