// One process of the system (a service or the gateway, or one replica of it): started from the
// repository's source with the environment it is given, its log lines handed on as they come,
// stopped gracefully (SIGTERM, then SIGKILL after a grace period), killed outright as a crash
// would, and restarted.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Part } from './parts.ts'

export type LogLine = Record<string, unknown>

export interface ProcessOptions {
  /** The repository's root. */
  root: string
  part: Part
  /** How it shows in the logs, e.g. `user-wallet` or `user-wallet#2`. */
  name?: string
  /** Its environment on top of this process's. */
  env: Record<string, string>
  /** Where it listens (the part's default port unless the environment says PORT). */
  port?: number
  /** Each line it writes: its own JSON log line, or a plain line made into one. */
  onLine?: (line: LogLine) => void
  /** Called when it ends without being asked to. */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void
}

export class ServiceProcess {
  readonly name: string
  readonly port: number
  private readonly options: ProcessOptions
  private child: ChildProcess | undefined
  private exit: Promise<void> = Promise.resolve()
  private expectingExit = false

  constructor(options: ProcessOptions) {
    this.options = options
    this.name = options.name ?? options.part.name
    this.port = options.port ?? Number(options.env.PORT ?? options.part.port)
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.child !== undefined
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  start(): void {
    if (this.child) throw new Error(`${this.name} is running already`)
    const { root, part } = this.options
    const child = spawn(process.execPath, ['src/main.ts'], {
      cwd: path.join(root, part.dir),
      env: { ...process.env, ...this.options.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A group of its own: a terminal's Ctrl-C reaches the supervisor only, which stops each
      // process once, in order.
      detached: true,
    })
    this.child = child
    this.expectingExit = false
    for (const [stream, level] of [
      [child.stdout, 30],
      [child.stderr, 50],
    ] as const) {
      createInterface({ input: stream }).on('line', (text) => this.relay(text, level))
    }
    this.exit = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.child = undefined
        if (!this.expectingExit) this.options.onUnexpectedExit?.(code, signal)
        resolve()
      })
    })
  }

  private relay(text: string, level: number): void {
    if (text.trim() === '' || !this.options.onLine) return
    let line: LogLine
    try {
      const parsed: unknown = JSON.parse(text)
      line =
        typeof parsed === 'object' && parsed !== null ? (parsed as LogLine) : { level, msg: text }
    } catch {
      line = { level, time: new Date().toISOString(), msg: text }
    }
    this.options.onLine({ ...line, service: this.name })
  }

  /** Asks it to stop (SIGTERM: it finishes in-flight work); SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child
    if (!child) return
    this.expectingExit = true
    child.kill('SIGTERM')
    const stopped = await Promise.race([this.exit.then(() => true), sleep(graceMs, false)])
    if (!stopped) {
      child.kill('SIGKILL')
      await this.exit
    }
  }

  /** Ends it at once, as a crash would (SIGKILL: nothing finishes). */
  async kill(): Promise<void> {
    const child = this.child
    if (!child) return
    this.expectingExit = true
    child.kill('SIGKILL')
    await this.exit
  }

  /** SIGKILL without waiting: for an `exit` handler, which cannot wait. */
  killNow(): void {
    this.expectingExit = true
    this.child?.kill('SIGKILL')
  }

  /** True once its readiness answers 200. */
  async isReady(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}${this.options.part.readyPath}`, {
        signal: AbortSignal.timeout(1000),
      })
      return res.ok
    } catch {
      return false
    }
  }

  /** Waits until it is ready; throws after `timeoutMs` or if it ends meanwhile. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (!this.child) throw new Error(`${this.name} ended before it was ready`)
      if (await this.isReady()) return
      if (Date.now() > deadline) throw new Error(`${this.name} not ready within ${timeoutMs} ms`)
      await sleep(100)
    }
  }
}
