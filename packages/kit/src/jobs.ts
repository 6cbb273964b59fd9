// A service's timers, as jobs. Each job runs once when the service starts (catching up on what
// came due while it was down), then every `everyMs` after its previous run ended, give or take a
// tenth (so replicas started together drift apart), never overlapping itself. A failure is
// logged with the job's name and the job runs again at its next turn.
//
// Several replicas run the same jobs: a job's own query makes that safe (SKIP LOCKED, a
// conditional claim, a batched delete of rows nobody else writes), and each job says how in a
// comment where it is defined.
import type { Logger } from '@tms/logging'

export interface Job {
  /** Names the job in every log line about it. */
  name: string
  /** The pause between the end of one run and the start of the next, before jitter. */
  everyMs: number
  /** One run; what it resolves to is logged at debug level. */
  run(): Promise<unknown>
}

export interface JobRunner {
  /** Stops scheduling runs; resolves once the runs in progress have finished. */
  stop(): Promise<void>
}

/** ±10 %, so replicas started at the same moment do not run their jobs in lockstep. */
function jittered(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2))
}

export function startJobs(jobs: readonly Job[], logger: Logger): JobRunner {
  const log = logger.child({ component: 'jobs' })
  const timers = new Set<NodeJS.Timeout>()
  const running = new Set<Promise<void>>()
  let stopped = false

  const schedule = (job: Job) => {
    if (stopped) return
    const timer = setTimeout(() => {
      timers.delete(timer)
      runNow(job)
    }, jittered(job.everyMs))
    // The HTTP server keeps the process alive; a pending job must not.
    timer.unref()
    timers.add(timer)
  }

  const runNow = (job: Job) => {
    const run = (async () => {
      try {
        const result = await job.run()
        log.debug({ job: job.name, result }, 'job ran')
      } catch (err) {
        log.warn({ err, job: job.name }, 'job failed; it runs again at its next turn')
      }
    })()
    running.add(run)
    void run.then(() => {
      running.delete(run)
      schedule(job)
    })
  }

  for (const job of jobs) runNow(job)
  return {
    async stop() {
      stopped = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      await Promise.all(running)
    },
  }
}
