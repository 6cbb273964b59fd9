import { createLogger } from '@tms/logging'
import { captureLogs, eventually } from '@tms/testing'
import t from 'tap'
import { type Job, startJobs } from '../src/index.ts'

function logged() {
  const logs = captureLogs()
  return { ...logs, logger: createLogger({ service: 'jobs-test', destination: logs.destination }) }
}

t.test('a job runs at once, then again after its interval, never overlapping itself', async (t) => {
  const { logger } = logged()
  let runs = 0
  let running = 0
  let mostAtOnce = 0
  // Each run takes longer than the interval: a timer-driven schedule would overlap them.
  let finish: (() => void) | undefined
  const job: Job = {
    name: 'slow',
    everyMs: 5,
    async run() {
      runs++
      running++
      mostAtOnce = Math.max(mostAtOnce, running)
      await new Promise<void>((resolve) => {
        finish = resolve
      })
      running--
    },
  }
  const runner = startJobs([job], logger)
  t.equal(runs, 1, 'the first run starts at once (catching up after downtime)')
  for (let n = 2; n <= 4; n++) {
    finish?.()
    await eventually(() => runs === n, { what: `run ${n}` })
  }
  t.equal(mostAtOnce, 1, 'never two runs at once')
  const stopped = runner.stop()
  let done = false
  void stopped.then(() => {
    done = true
  })
  await Promise.resolve()
  t.notOk(done, 'stop waits for the run in progress')
  finish?.()
  await stopped
  t.equal(running, 0, 'and then nothing runs')
})

t.test('a failure is logged with the job’s name and the job keeps its turns', async (t) => {
  const { logger, lines } = logged()
  let runs = 0
  const runner = startJobs(
    [
      {
        name: 'flaky',
        everyMs: 5,
        async run() {
          runs++
          if (runs === 1) throw new Error('database away')
        },
      },
    ],
    logger,
  )
  t.teardown(() => runner.stop())
  await eventually(() => runs >= 3, { what: 'runs after the failure' })
  const failures = lines.filter((l) => l.job === 'flaky' && l.level === 40)
  t.equal(failures.length, 1)
  t.match(failures[0], { msg: /job failed/, err: { message: 'database away' } })
})

t.test('runs are spaced by the interval, less at most its jitter', async (t) => {
  const { logger } = logged()
  const started: number[] = []
  const runner = startJobs(
    [
      {
        name: 'ticker',
        everyMs: 20,
        async run() {
          started.push(performance.now())
        },
      },
    ],
    logger,
  )
  t.teardown(() => runner.stop())
  await eventually(() => started.length >= 6, { what: 'six runs' })
  const gaps = started.slice(1).map((at, i) => at - (started[i] as number))
  // Timers fire late on a busy machine, never early: a lower bound only.
  t.ok(
    gaps.every((gap) => gap >= 17),
    `each gap at least 90 % of the interval (${gaps.map((g) => g.toFixed(1))})`,
  )
})
