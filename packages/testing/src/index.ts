// The harness every test uses: a database, broker names and (see s3.ts, tokens.ts) an S3
// endpoint and signed tokens of its own, cleaned up when the test ends.
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { createConnection } from 'mysql2/promise'
import type { TestContext } from './context.ts'
import { amqpServerUrl, mysqlServerUrl } from './infra.ts'

export { type Answer, answerProblem } from './answers.ts'

export {
  authorization,
  awkwardCharacter,
  contractAccepts,
  type EncodedBody,
  emailLike,
  encodedBody,
  nameLike,
  nearBody,
  pathSegment,
  phoneLike,
  urlPart,
  usernameLike,
} from './arbitraries.ts'
export { containersChosen, dockerReachable, testImages } from './containers.ts'
export type { TestContext } from './context.ts'
export { eventually } from './eventually.ts'
export { exampleRequest, type FuzzSettings, fuzzSettings } from './fuzz.ts'
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
  type TestIssuer,
  type TestIssuerOptions,
  type TokenClaims,
} from './tokens.ts'

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

/** A log destination that keeps every line a pino logger writes, parsed, for assertions. */
export function captureLogs(): {
  destination: Writable
  lines: Record<string, unknown>[]
  messages(): string[]
} {
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line))
      }
      callback()
    },
  })
  return { destination, lines, messages: () => lines.map((l) => String(l.msg)) }
}

/**
 * Another session that locks rows and keeps them locked until released: runs `lockingQuery`
 * (a `SELECT … FOR UPDATE`) in a transaction on a connection of its own. `locked` resolves once
 * the rows are held; `release()` commits; `done` resolves after the commit.
 */
export function holdLock<DB>(db: Kysely<DB>, lockingQuery: RawBuilder<unknown>) {
  const released = Promise.withResolvers<void>()
  const locked = Promise.withResolvers<void>()
  const done = db.connection().execute(async (conn) => {
    await sql`BEGIN`.execute(conn)
    try {
      await lockingQuery.execute(conn)
      locked.resolve()
      await released.promise
    } finally {
      await sql`COMMIT`.execute(conn)
    }
  })
  done.catch(locked.reject)
  return { locked: locked.promise, release: () => released.resolve(), done }
}
export { stallAfterPartOfABody } from './slow-client.ts'
