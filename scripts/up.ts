// `scripts/tms up`: the whole system on this machine, on local defaults. Checks that MySQL
// (MariaDB) and RabbitMQ answer, starts every service and the gateway as processes of their own,
// merges their logs into one stream (pretty and coloured in a terminal, JSON lines otherwise),
// says when everything is ready and where, and stops every process on Ctrl-C or SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { formatLine, type LogLine, paint } from './log-format.ts'

const root = path.resolve(import.meta.dirname, '..')

interface Part {
  name: string
  dir: string
  port: number
  /** What says "ready": a service's readiness, the gateway's health. */
  readyPath: string
}

const parts: Part[] = [
  { name: 'auth', dir: 'services/auth', port: 8001, readyPath: '/health/ready' },
  { name: 'user-wallet', dir: 'services/user-wallet', port: 8002, readyPath: '/health/ready' },
  { name: 'academic', dir: 'services/academic', port: 8003, readyPath: '/health/ready' },
  { name: 'gateway', dir: 'gateway', port: 8000, readyPath: '/health' },
].filter((p) => existsSync(path.join(root, p.dir, 'package.json')))

/** The development admin that auth creates at start-up; never in production. */
export const devAdmin = {
  ADMIN_USERNAME: 'admin',
  ADMIN_EMAIL: 'admin@example.com',
  ADMIN_PASSWORD: 'admin-dev-password',
}

const pretty =
  process.env.LOG_FORMAT === 'pretty' ||
  (process.stdout.isTTY === true && process.env.LOG_FORMAT !== 'json')
const production = process.env.NODE_ENV === 'production'

function out(line: LogLine): void {
  process.stdout.write(pretty ? `${formatLine(line)}\n` : `${JSON.stringify(line)}\n`)
}

function say(msg: string, level = 30, extra: Record<string, unknown> = {}): void {
  out({ level, time: new Date().toISOString(), service: 'tms', msg, ...extra })
}

function answers(host: string, port: number, ms = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(ms, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

function endpoint(url: string | undefined, fallbackPort: number): { host: string; port: number } {
  if (!url) return { host: '127.0.0.1', port: fallbackPort }
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port || fallbackPort) }
}

/** Stops at once, with how to start what is missing, when MySQL or RabbitMQ does not answer. */
async function preflight(): Promise<void> {
  const mysql = endpoint(process.env.DATABASE_URL, 3306)
  const amqp = endpoint(process.env.AMQP_URL, 5672)
  const missing: string[] = []
  if (!(await answers(mysql.host, mysql.port))) {
    missing.push(
      `nothing answers on ${mysql.host}:${mysql.port} (MySQL or MariaDB). Start one:\n` +
        '  on this kind of machine: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n' +
        '  with Docker:             docker compose up -d mysql  (and set DATABASE_URL, see README)',
    )
  }
  if (!(await answers(amqp.host, amqp.port))) {
    missing.push(
      `nothing answers on ${amqp.host}:${amqp.port} (RabbitMQ). Start it:\n` +
        '  on this kind of machine: rabbitmq-server -detached\n' +
        '  with Docker:             docker compose up -d rabbitmq  (and set AMQP_URL, see README)',
    )
  }
  if (missing.length > 0) {
    for (const m of missing) process.stderr.write(`tms up: ${m}\n`)
    process.exit(1)
  }
}

const children = new Map<string, ChildProcess>()
let stopping = false

function start(part: Part): void {
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    DATA_DIR: path.join(root, '.data', part.name),
    ...process.env,
    ...(part.name === 'auth' && !production && !process.env.ADMIN_USERNAME ? devAdmin : {}),
  }
  // The logs are this process's to format: JSON lines from every child.
  delete env.LOG_FORMAT
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: path.join(root, part.dir),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own: Ctrl-C reaches this process alone, which stops each child once.
    detached: true,
  })
  children.set(part.name, child)
  for (const [stream, level] of [
    [child.stdout, 30],
    [child.stderr, 50],
  ] as const) {
    createInterface({ input: stream }).on('line', (text) => relay(part.name, text, level))
  }
  child.on('exit', (code, signal) => {
    children.delete(part.name)
    if (stopping) return
    say(`${part.name} stopped by itself (${signal ?? `exit ${code}`}); stopping the others`, 50)
    void stop(1)
  })
}

/** A child's line: its own JSON log line, or plain text (a startup error) made into one. */
function relay(service: string, text: string, level: number): void {
  if (text.trim() === '') return
  let line: LogLine
  try {
    const parsed = JSON.parse(text)
    line = typeof parsed === 'object' && parsed !== null ? parsed : { msg: text }
  } catch {
    line = { level, time: new Date().toISOString(), msg: text }
  }
  out({ service, ...line })
}

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    say('stopping every process')
    for (const child of children.values()) child.kill('SIGTERM')
    const deadline = Date.now() + 15_000
    while (children.size > 0 && Date.now() < deadline) await sleep(100)
    for (const [name, child] of children) {
      say(`${name} did not stop within 15 s; killing it`, 40)
      child.kill('SIGKILL')
    }
    say('stopped')
  }
  process.exit(code)
}

async function ready(part: Part): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${part.port}${part.readyPath}`, {
      signal: AbortSignal.timeout(1000),
    })
    return res.ok
  } catch {
    return false
  }
}

async function announceWhenReady(): Promise<void> {
  const started = performance.now()
  for (;;) {
    if (stopping) return
    const states = await Promise.all(parts.map(ready))
    if (states.every(Boolean)) break
    if (performance.now() - started > 120_000) {
      const waiting = parts.filter((_, i) => !states[i]).map((p) => p.name)
      say(`still not ready after 2 minutes: ${waiting.join(', ')}`, 40)
      return
    }
    await sleep(250)
  }
  const gateway = parts.find((p) => p.name === 'gateway')
  const base = gateway ? 'http://localhost:8000' : undefined
  const lines = [
    `ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    base ? `API:  ${base}` : 'API:  no gateway yet; the services answer on their own ports',
    base ? `docs: ${base}/docs` : '',
    ...parts
      .filter((p) => p.name !== 'gateway')
      .map((p) => `${p.name}: http://127.0.0.1:${p.port}`),
    production
      ? ''
      : `development admin: ${devAdmin.ADMIN_USERNAME} / ${devAdmin.ADMIN_PASSWORD} (${devAdmin.ADMIN_EMAIL})`,
    'Ctrl-C stops everything',
  ].filter(Boolean)
  if (pretty) {
    process.stdout.write(`\n${lines.map((l) => `  ${paint('bold', l)}`).join('\n')}\n\n`)
  } else {
    say('ready', 30, {
      api: base,
      docs: base ? `${base}/docs` : undefined,
      services: Object.fromEntries(parts.map((p) => [p.name, `http://127.0.0.1:${p.port}`])),
    })
  }
}

await preflight()
// However this process ends, no child outlives it.
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGKILL')
})
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
say(`starting ${parts.map((p) => p.name).join(', ')}`)
for (const part of parts) start(part)
await announceWhenReady()
