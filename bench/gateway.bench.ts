// What the gateway costs: requests per second and p50/p99 of an authenticated, database-backed
// read (GET /user/me) straight to the user-wallet service, through the gateway, through nginx
// as a reference proxy, and a raw node:http hello as the ceiling of this machine, in one run.
// The services and the gateway run as their own processes, as `scripts/tms up` starts them.
//   TEST_MYSQL_URL=mysql://root@127.0.0.1:3306 TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672 \
//     node bench/gateway.bench.ts [seconds per run] [connections] [rounds]
// Needs nginx on the PATH or in /usr/sbin (Debian: apt-get install -y nginx); BENCH_PROFILE=1
// writes a CPU profile of the gateway (node --cpu-prof) and prints where its time went.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createBus } from '@tms/bus'
import { dropDatabase } from '@tms/db'
import { createLogger } from '@tms/logging'
import autocannon from 'autocannon'

const seconds = Number(process.argv[2] ?? 8)
const connections = Number(process.argv[3] ?? 32)
const rounds = Number(process.argv[4] ?? 4)
const profile = process.env.BENCH_PROFILE === '1'
const mysql = (process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/$/, '')
const amqp = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const nginxBinary = [
  '/usr/sbin/nginx',
  '/usr/local/sbin/nginx',
  '/usr/local/nginx/sbin/nginx',
].find(existsSync)
if (!nginxBinary) {
  console.error('nginx is not installed (Debian: apt-get install -y nginx)')
  process.exit(1)
}

const logger = createLogger({ service: 'bench', level: 'warn' })
const work = await mkdtemp(path.join(tmpdir(), 'tms-gateway-bench-'))
const tag = `bench_gw_${process.pid}`
const databases = { auth: `${mysql}/${tag}_auth`, wallet: `${mysql}/${tag}_wallet` }
const busPrefix = `${tag}.`
const children: ChildProcess[] = []

/** Distinct free loopback ports: all held open until each is chosen, then released. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer()
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return server
    }),
  )
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

/**
 * A process of its own, its output straight into a log file under the work directory (a pipe
 * to this process, busy running autocannon, would slow every process's log writes).
 */
function start(name: string, command: string, args: string[], cwd: string, env: object) {
  const log = openSync(path.join(work, `${name}.log`), 'w')
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  })
  child.on('exit', () => closeSync(log))
  children.push(child)
  return child
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what} (logs in ${work})`)
}

const answers = (url: string, init?: RequestInit) => async () => (await fetch(url, init)).ok

async function stopAll() {
  for (const child of children.reverse()) {
    if (child.exitCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, sleep(12_000)])
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}

interface Figures {
  label: string
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  /** CPU time (user + system) per request of each process on the path, in microseconds. */
  cpuUs: Record<string, number>
}

/** A process's CPU time so far (user + system), in microseconds, from /proc. */
function cpuTimeUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1e6) / 100 // USER_HZ is 100 on Linux
}

async function measure(
  label: string,
  url: string,
  headers: Record<string, string>,
  processes: Record<string, number>,
) {
  const run = (duration: number) =>
    autocannon({ url, connections, duration, headers, pipelining: 1 })
  await run(2) // warm-up: connections, JIT, caches
  const before = Object.fromEntries(
    Object.entries(processes).map(([n, pid]) => [n, cpuTimeUs(pid)]),
  )
  const result = await run(seconds)
  const cpuUs = Object.fromEntries(
    Object.entries(processes).map(([n, pid]) => [
      n,
      (cpuTimeUs(pid) - (before[n] ?? 0)) / Math.max(1, result.requests.total),
    ]),
  )
  return {
    label,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuUs,
  } satisfies Figures
}

try {
  const names = [
    'auth',
    'wallet',
    'gateway',
    'metrics',
    'nginx',
    'hello',
    'bare',
    'stub',
    'stubGateway',
    'stubMetrics',
  ] as const
  const chosen = await freePorts(names.length)
  const ports = Object.fromEntries(names.map((name, i) => [name, chosen[i] as number])) as Record<
    (typeof names)[number],
    number
  >
  const shared = {
    NODE_ENV: 'development',
    AMQP_URL: amqp,
    BUS_PREFIX: busPrefix,
    DATA_DIR: path.join(work, 'data'),
    JWT_ISSUER: 'tms-bench',
    HOST: '127.0.0.1',
  }
  const node = process.execPath
  const authProcess = start('auth', node, ['src/main.ts'], path.join(root, 'services/auth'), {
    ...shared,
    PORT: ports.auth,
    DATABASE_URL: databases.auth,
  })
  const walletProcess = start(
    'user-wallet',
    node,
    ['src/main.ts'],
    path.join(root, 'services/user-wallet'),
    {
      ...shared,
      PORT: ports.wallet,
      DATABASE_URL: databases.wallet,
      JWKS_URL: `http://127.0.0.1:${ports.auth}/auth/.well-known/jwks.json`,
    },
  )
  /** A gateway process in front of the wallet or the stub, with auth's keys. */
  const startGateway = (name: string, port: number, metricsPort: number, userPort: number) =>
    start(
      name,
      node,
      [
        ...(profile && name === 'gateway' ? ['--cpu-prof', `--cpu-prof-dir=${work}/profile`] : []),
        'src/main.ts',
      ],
      path.join(root, 'gateway'),
      {
        ...shared,
        PORT: port,
        METRICS_PORT: metricsPort,
        AUTH_UPSTREAMS: `http://127.0.0.1:${ports.auth}`,
        USER_UPSTREAMS: `http://127.0.0.1:${userPort}`,
        JWKS_URL: `http://127.0.0.1:${ports.auth}/auth/.well-known/jwks.json`,
        // One client address sends everything: the limit is still evaluated, never reached.
        RATE_LIMIT_MAX: '1000000000',
        RATE_LIMIT_AUTH_MAX: '1000000000',
      },
    )
  const gatewayProcess = startGateway('gateway', ports.gateway, ports.metrics, ports.wallet)
  const helloProcess = start(
    'hello',
    node,
    [
      '-e',
      `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'text/plain'); s.end('hello') }).listen(${ports.hello}, '127.0.0.1')`,
    ],
    root,
    {},
  )
  // References for the proxy's own cost: a bare node:http server forwarding with an undici
  // pool (no checks at all) in front of the wallet, and a second gateway in front of a stub
  // service that answers /user/me from memory (so only the gateway's CPU is in question).
  const bareProcess = start('bare', node, ['-e', bareProxy(ports.bare, ports.wallet)], root, {})
  const stubProcess = start('stub', node, ['-e', stubService(ports.stub)], root, {})
  const stubGatewayProcess = startGateway(
    'gateway-stub',
    ports.stubGateway,
    ports.stubMetrics,
    ports.stub,
  )
  const nginxConf = path.join(work, 'nginx.conf')
  await writeFile(
    nginxConf,
    `# A reference reverse proxy in front of the wallet: one worker, kept-alive upstream.
worker_processes 1;
master_process off;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  keepalive_requests 1000000;
  access_log ${work}/nginx-access.log;
  client_body_temp_path ${work}/nginx-body;
  proxy_temp_path ${work}/nginx-proxy;
  fastcgi_temp_path ${work}/nginx-fastcgi;
  uwsgi_temp_path ${work}/nginx-uwsgi;
  scgi_temp_path ${work}/nginx-scgi;
  upstream wallet { server 127.0.0.1:${ports.wallet}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${ports.nginx};
    location / {
      proxy_pass http://wallet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`,
  )
  const nginxProcess = start('nginx', nginxBinary, ['-c', nginxConf, '-p', work], work, {})

  const at = (port: number, p = '/') => `http://127.0.0.1:${port}${p}`
  await until('auth', answers(at(ports.auth, '/health/live')))
  await until('user-wallet', answers(at(ports.wallet, '/health/live')))
  await until('gateway', answers(at(ports.gateway, '/health/live')))
  await until('nginx', answers(at(ports.nginx, '/health/live')))
  await until('hello', answers(at(ports.hello)))
  await until('bare proxy', answers(at(ports.bare, '/health/live')))
  await until('stub', answers(at(ports.stub, '/health/ready')))
  await until('gateway in front of the stub', answers(at(ports.stubGateway, '/health/live')))

  // A user, signed up and logged in through the gateway; its profile arrives by event.
  const account = {
    username: `bench_${process.pid}`,
    email: `bench.${process.pid}@example.com`,
    password: 'correct horse battery staple',
    role: 'student',
  }
  const json = { 'content-type': 'application/json' }
  const signup = await fetch(at(ports.gateway, '/auth/signup'), {
    method: 'POST',
    headers: json,
    body: JSON.stringify(account),
  })
  if (signup.status !== 201) throw new Error(`signup: ${signup.status} ${await signup.text()}`)
  const login = await fetch(at(ports.gateway, '/auth/login'), {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ username: account.username, password: account.password }),
  })
  const { access_token: token } = (await login.json()) as { access_token: string }
  const auth = { authorization: `Bearer ${token}` }
  await until('the profile', answers(at(ports.wallet, '/user/me'), { headers: auth }))

  console.log(
    `GET /user/me, ${connections} connections, ${seconds} s per run after a 2 s warm-up, ${rounds} round(s); ${new Date().toISOString()}`,
  )
  const all: Figures[] = []
  const pid = (child: ChildProcess) => child.pid as number
  void authProcess
  const wallet = pid(walletProcess)
  for (let round = 1; round <= rounds; round++) {
    // A profile (or BENCH_ONLY=gateway) is of the gateway under load only; the figures then
    // include the profiler's cost.
    const gatewayOnly = profile || process.env.BENCH_ONLY === 'gateway'
    if (!gatewayOnly) {
      all.push(
        await measure(
          'node:http hello (ceiling)',
          at(ports.hello),
          {},
          { hello: pid(helloProcess) },
        ),
      )
    }
    all.push(await measure('direct to user-wallet', at(ports.wallet, '/user/me'), auth, { wallet }))
    all.push(
      await measure('through the gateway', at(ports.gateway, '/user/me'), auth, {
        wallet,
        proxy: pid(gatewayProcess),
      }),
    )
    if (!gatewayOnly) {
      all.push(
        await measure('bare node:http + undici proxy', at(ports.bare, '/user/me'), auth, {
          wallet,
          proxy: pid(bareProcess),
        }),
      )
      all.push(
        await measure('gateway to a stub service', at(ports.stubGateway, '/user/me'), auth, {
          proxy: pid(stubGatewayProcess),
          stub: pid(stubProcess),
        }),
      )
      all.push(
        await measure('through nginx', at(ports.nginx, '/user/me'), auth, {
          wallet,
          proxy: pid(nginxProcess),
        }),
      )
    }
  }

  // The machine is shared and noisy: each round measures every path back to back, and the
  // figures below are the median over the rounds; a ratio is taken within a round.
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  }
  const labels = [...new Set(all.map((f) => f.label))]
  const runsOf = (label: string) => all.filter((f) => f.label === label)
  const directRuns = runsOf('direct to user-wallet')
  const ratioOf = (label: string) =>
    median(runsOf(label).map((f, i) => f.rps / (directRuns[i]?.rps ?? Number.NaN)))
  const cpu = (runs: Figures[], name: string) => {
    const values = runs.map((f) => f.cpuUs[name]).filter((v) => v !== undefined)
    return values.length > 0 ? `${median(values).toFixed(0)} µs` : '–'
  }
  console.log(
    '\n| path | req/s | p50 | p99 | of direct | proxy CPU/request | service CPU/request |',
  )
  console.log('|---|---|---|---|---|---|---|')
  for (const label of labels) {
    const runs = runsOf(label)
    console.log(
      `| ${label} | ${median(runs.map((f) => f.rps)).toFixed(0)} | ${median(runs.map((f) => f.p50))} ms | ${median(runs.map((f) => f.p99))} ms | ${label.includes('stub') ? '–' : ratioOf(label).toFixed(2)} | ${cpu(runs, 'proxy')} | ${cpu(runs, label.startsWith('node') ? 'hello' : label.includes('stub') ? 'stub' : 'wallet')} |`,
    )
  }
  console.log('\nEvery run (req/s; non-2xx; errors):')
  for (const f of all) {
    console.log(`  ${f.label.padEnd(28)} ${f.rps.toFixed(0).padStart(6)}  ${f.non2xx}  ${f.errors}`)
  }
  const gatewayRatio = ratioOf('through the gateway')
  const nginxRatio = ratioOf('through nginx')
  console.log(
    `\ngateway/direct ${gatewayRatio.toFixed(2)} (goal ≥ 0.70), nginx/direct ${nginxRatio.toFixed(2)}, gateway/nginx ${(gatewayRatio / nginxRatio).toFixed(2)} (medians of the rounds)`,
  )
  if (all.some((f) => f.non2xx > 0 || f.errors > 0)) {
    console.log('warning: some requests failed; the figures are not comparable')
  }
} finally {
  await stopAll()
  if (profile) {
    const dir = path.join(work, 'profile')
    for (const file of existsSync(dir) ? readdirSync(dir) : []) {
      summarizeProfile(path.join(dir, file))
    }
  }
  await createBus({
    service: 'bench-cleanup',
    url: amqp,
    prefix: busPrefix,
    db: {} as never,
    logger,
  })
    .deleteTopology()
    .catch((err) => console.error('broker cleanup failed:', err.message))
  for (const url of Object.values(databases)) await dropDatabase(url).catch(() => {})
  if (!profile) await rm(work, { recursive: true, force: true })
  else console.log(`profile and logs kept in ${work}`)
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

/** Self time by function and by package, from a .cpuprofile. */
function summarizeProfile(file: string) {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[]
    samples: number[]
    timeDeltas: number[]
  }
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  for (const [i, id] of prof.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
  }
  // Shares of the time the process was busy (idle and the profiler's own ticks left out).
  const notBusy = new Set(['(idle)', '(program)'])
  for (const [id] of selfUs) {
    if (notBusy.has(byId.get(id)?.callFrame.functionName ?? '')) selfUs.delete(id)
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame
    if (!frame) continue
    const where = frame.url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    const fn = `${frame.functionName || '(anonymous)'} ${where.split('/').slice(-2).join('/')}:${frame.lineNumber}`
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    const pkg = frame.url.includes('node_modules')
      ? (where.match(/^(@[^/]+\/[^/]+|[^/]+)/)?.[1] ?? where)
      : frame.url.startsWith('node:')
        ? 'node:*'
        : frame.url === ''
          ? `(${frame.functionName || 'native'})`
          : 'project'
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n')
  console.log(
    `\nGateway CPU profile ${path.basename(file)}: self time by package\n${top(byPackage, 15)}`,
  )
  console.log(`by function\n${top(byFunction, 30)}`)
}

/** A proxy with no checks at all: node:http in, an undici pool out, the answer buffered. */
function bareProxy(port: number, walletPort: number): string {
  return `
const http = require('node:http')
const { Pool } = require(${JSON.stringify(path.join(root, 'gateway/node_modules/undici'))})
const pool = new Pool('http://127.0.0.1:${walletPort}', { connections: 64 })
const hop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host'])
http.createServer((req, res) => {
  const headers = {}
  for (const k in req.headers) if (!hop.has(k)) headers[k] = req.headers[k]
  pool.request({ path: req.url, method: req.method, headers }, (err, up) => {
    if (err) { res.writeHead(502).end(); return }
    const chunks = []
    up.body.on('data', (c) => chunks.push(c)).on('end', () => {
      const out = {}
      for (const k in up.headers) if (!hop.has(k)) out[k] = up.headers[k]
      res.writeHead(up.statusCode, out).end(Buffer.concat(chunks))
    })
  })
}).listen(${port}, '127.0.0.1')`
}

/** A service that answers /user/me from memory, in the wallet's shape, and its readiness. */
function stubService(port: number): string {
  return `
const body = JSON.stringify({ id: 'u1', username: 'stub_user', email: 'stub@example.com', name: null, phone: null, role: 'student', balance: 0, available_balance: 0, currency: 'usd', created_at: '2026-01-01T00:00:00.000Z' })
require('node:http').createServer((req, res) => {
  if (req.url === '/user/me') res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body)
  else res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
}).listen(${port}, '127.0.0.1')`
}
