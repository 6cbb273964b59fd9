// runService as an operator meets it: a process that starts, says it is ready, serves, runs its
// jobs, and shuts down on SIGTERM; and one that stops at once on a bad configuration.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createBus } from '@tms/bus'
import { createDb } from '@tms/db'
import { createLogger } from '@tms/logging'
import { createTestBroker, createTestDatabase, eventually } from '@tms/testing'
import t from 'tap'

const fixture = fileURLToPath(new URL('./fixtures/service.ts', import.meta.url))

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [fixture],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    )
  })
}

t.test('a bad variable or a rule across variables: one line each, status 78', async (t) => {
  const bad = await run({ PORT: 'abc', LOG_LEVEL: 'loud' })
  t.equal(bad.code, 78)
  t.same(bad.stderr.trim().split('\n'), [
    'config error: PORT must be a whole number from 0 to 65535 (got "abc")',
    'config error: LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
  ])
  const rule = await run({ GREETING: 'goodbye' })
  t.equal(rule.code, 78)
  t.equal(rule.stderr, 'config error: GREETING cannot be goodbye\n')
})

t.test('a start that fails: a configuration problem is status 78, anything else 1', async (t) => {
  const env = { DATABASE_URL: await createTestDatabase(t), PORT: '0', METRICS_PORT: '0' }
  const problem = await run({ ...env, GREETING: 'unreadable' })
  t.equal(problem.code, 78)
  t.equal(problem.stderr, 'config error: GREETING_FILE cannot be read\n')
  const bug = await run({ ...env, GREETING: 'bug', LOG_LEVEL: 'silent' })
  t.equal(bug.code, 1)
  t.equal(bug.stderr, 'startup error: something the service did not expect\n', 'one line')
})

t.test('starts, is ready with the bus, runs its job, and shuts down on SIGTERM', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const broker = await createTestBroker()
  t.teardown(async () => {
    // The fixture declared the topology under the test's prefix; a bus of the same prefix
    // deletes it (it needs a database handle, never used for this).
    const db = createDb(databaseUrl)
    const logger = createLogger({ service: 'kit-test', level: 'silent' })
    await createBus({ service: 'x', url: broker.url, prefix: broker.prefix, db, logger })
      .deleteTopology()
      .finally(() => db.destroy())
  })
  const child: ChildProcess = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      AMQP_URL: broker.url,
      BUS_PREFIX: broker.prefix,
      PORT: '0',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const lines: Record<string, unknown>[] = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
    lines.push(JSON.parse(line)),
  )
  const ready = await eventually(() => lines.find((l) => l.url && /ready at/.test(String(l.msg))), {
    timeoutMs: 30_000,
    what: 'the ready line',
  })
  t.match(ready, { service: 'kit-fixture', url: /^http:\/\/127\.0\.0\.1:\d+$/ })
  t.match(ready.metrics, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const base = String(ready.url)
  t.same(await (await fetch(`${base}/greeting`)).json(), { greeting: 'hello' })
  const readiness = await eventually(
    async () => {
      const res = await fetch(`${base}/health/ready`)
      const body = (await res.json()) as { checks: { bus: string } }
      return res.status === 200 && body.checks.bus === 'connected' && body
    },
    { what: 'readiness with the bus connected' },
  )
  t.same(readiness, { status: 'ok', checks: { database: 'ok', bus: 'connected' } })
  t.ok(
    lines.some((l) => l.msg === 'tick ran'),
    'the job ran at start',
  )
  t.equal((await fetch(String(ready.metrics))).status, 200, 'metrics on their own listener')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exits cleanly')
  t.ok(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'))
})
