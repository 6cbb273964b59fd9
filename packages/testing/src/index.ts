// The harness every test uses: a database, broker names and (see s3.ts, tokens.ts) an S3
// endpoint and signed tokens of its own, cleaned up when the test ends.
import { randomBytes } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { amqpServerUrl, mysqlServerUrl } from './infra.ts'

export { containersChosen, dockerReachable, testImages } from './containers.ts'
export { eventually } from './eventually.ts'
export { amqpServerUrl, mysqlServerUrl } from './infra.ts'
export {
  createTestS3,
  type S3Source,
  s3Client,
  s3Server,
  type TestS3,
  uniqueBucketName,
} from './s3.ts'
export { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'
export {
  createImpostorIssuer,
  createTestIssuer,
  jwksPath,
  type MintOptions,
  type Role,
  type TestIssuer,
  type TestIssuerOptions,
  type TokenClaims,
} from './tokens.ts'

/** The part of a tap test the harness needs: somewhere to register cleanup. */
export interface TestContext {
  teardown(fn: () => unknown): void
}

/** A short random name part, safe in database and queue names. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** A database of the test's own, created empty and dropped when the test ends. */
export async function createTestDatabase(t: TestContext): Promise<string> {
  const server = new URL(await mysqlServerUrl())
  server.pathname = `/${uniqueName()}`
  const url = server.toString()
  const name = server.pathname.slice(1)
  // The harness talks to the server itself rather than through @tms/db, whose own tests use it.
  const admin = async (statement: string) => {
    const conn = await createConnection({ uri: (await mysqlServerUrl()).toString() })
    try {
      await conn.query(statement)
    } finally {
      await conn.end()
    }
  }
  await admin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
  t.teardown(() => admin(`DROP DATABASE IF EXISTS \`${name}\``))
  return url
}

/**
 * The broker URL and a name prefix of the test's own (this RabbitMQ has no management plugin
 * to make vhosts with). Whatever the test declares under the prefix it deletes itself, with
 * the bus's deleteTopology.
 */
export async function createTestBroker(): Promise<{ url: string; prefix: string }> {
  return { url: await amqpServerUrl(), prefix: `${uniqueName()}.` }
}

/** A clock a test sets and moves; starts at the real time unless given another. */
export class TestClock {
  current: Date
  constructor(start: Date = new Date()) {
    this.current = new Date(start)
  }
  now(): Date {
    return new Date(this.current)
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms)
  }
  set(to: Date | string): void {
    this.current = new Date(to)
  }
}
