// The process as an operator starts it: a database that never answers stops start-up after
// DB_CONNECT_TIMEOUT_MS with one line saying why, after one log line per attempt.
import { execFile } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test(
  'an unreachable database: retried with a line per attempt, then a one-line exit',
  async (t) => {
    const port = await closedPort()
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [main],
          {
            env: {
              ...process.env,
              DATABASE_URL: `mysql://root@127.0.0.1:${port}/wallet`,
              DB_CONNECT_TIMEOUT_MS: '1500',
              PORT: '0',
              LOG_LEVEL: 'info',
            },
            timeout: 20_000,
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
        )
      },
    )
    t.equal(result.code, 1, 'exits with status 1')
    const stderr = result.stderr.trim().split('\n')
    t.equal(stderr.length, 1, `one line on stderr: ${result.stderr}`)
    t.match(
      stderr[0],
      new RegExp(
        `^startup error: the database at 127\\.0\\.0\\.1:${port} could not be reached within 1\\.5 s \\(ECONNREFUSED, \\d+ attempts\\)$`,
      ),
    )
    const attempts = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((l) => /not reachable/.test(l.msg))
    t.ok(attempts.length >= 2, `a log line per attempt (${attempts.length})`)
  },
)
