// `scripts/tms up`: the whole system on this machine, on local defaults. Checks that MySQL
// (MariaDB) and RabbitMQ answer, starts every service and the gateway as processes of their own
// (@tms/system), merges their logs into one stream (pretty and coloured in a terminal, JSON
// lines otherwise), says when everything is ready and where, and stops every process on
// Ctrl-C or SIGTERM.
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type LogLine, partNames, parts, ServiceProcess } from '@tms/system'
import { formatLine, paint } from './log-format.ts'

const root = path.resolve(import.meta.dirname, '..')

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

let stopping = false

const processes = partNames
  .map((name) => parts[name])
  .filter((part) => existsSync(path.join(root, part.dir, 'package.json')))
  .map(
    (part) =>
      new ServiceProcess({
        root,
        part,
        env: {
          NODE_ENV: process.env.NODE_ENV ?? 'development',
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
          DATA_DIR: process.env.DATA_DIR ?? path.join(root, '.data', part.name),
          ...(part.name === 'auth' && !production && !process.env.ADMIN_USERNAME ? devAdmin : {}),
        },
        port: part.port,
        onLine: out,
        onUnexpectedExit: (code, signal) => {
          if (stopping) return
          say(
            `${part.name} stopped by itself (${signal ?? `exit ${code}`}); stopping the others`,
            50,
          )
          void stop(1)
        },
      }),
  )

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    say('stopping every process')
    await Promise.all(processes.map((p) => p.stop()))
    say('stopped')
  }
  process.exit(code)
}

async function announceWhenReady(): Promise<void> {
  const started = performance.now()
  for (;;) {
    if (stopping) return
    const states = await Promise.all(processes.map((p) => p.isReady()))
    if (states.every(Boolean)) break
    if (performance.now() - started > 120_000) {
      const waiting = processes.filter((_, i) => !states[i]).map((p) => p.name)
      say(`still not ready after 2 minutes: ${waiting.join(', ')}`, 40)
      return
    }
    await sleep(250)
  }
  const gateway = processes.find((p) => p.name === 'gateway')
  const base = gateway ? `http://localhost:${gateway.port}` : undefined
  const services = processes.filter((p) => p !== gateway)
  const lines = [
    `ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    base ? `API:  ${base}` : 'API:  no gateway; the services answer on their own ports',
    base ? `docs: ${base}/docs` : '',
    ...services.map((p) => `${p.name}: ${p.url}`),
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
      services: Object.fromEntries(services.map((p) => [p.name, p.url])),
    })
  }
}

await preflight()
// However this process ends, no child outlives it.
process.on('exit', () => {
  for (const p of processes) p.killNow()
})
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
say(`starting ${processes.map((p) => p.name).join(', ')}`)
for (const p of processes) p.start()
await announceWhenReady()
