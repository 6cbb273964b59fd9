// What the proxy passes on and what it answers itself: forwarding headers it sets, identity
// headers it drops, request ids, streamed uploads and downloads, size caps, rate limits, CORS,
// and a problem (never a hang) when a service is down or slow.
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { eventually, stallAfterPartOfABody } from '@tms/testing'
import t from 'tap'
import { request } from 'undici'
import {
  bearer,
  deadOrigin,
  listen,
  loginAs,
  startFileStore,
  startGateway,
  startSystem,
  startWallet,
} from './helpers.ts'

t.test('forged forwarding and identity headers never reach a service', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const student = await loginAs(system, 'student')
  const res = await app.inject({
    url: '/academic/class-sessions?status=requested',
    remoteAddress: '10.1.2.3',
    headers: {
      ...bearer(student.access_token),
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=6.6.6.6',
      'x-real-ip': '6.6.6.6',
      'x-user-id': 'someone-else',
      'x-user-role': 'admin',
      'x-role': 'admin',
      'x-auth-user': 'admin',
      'x-request-id': 'client-chosen-id.1',
    },
  })
  t.equal(res.statusCode, 200, res.body)
  const seen = system.files.echoed.at(-1) ?? {}
  t.equal(seen['x-forwarded-for'], '10.1.2.3', 'the address the gateway saw')
  t.equal(seen['x-forwarded-proto'], 'http')
  t.equal(seen['x-forwarded-host'], 'localhost:80')
  for (const name of [
    'forwarded',
    'x-real-ip',
    'x-user-id',
    'x-user-role',
    'x-role',
    'x-auth-user',
  ]) {
    t.notOk(name in seen, `${name} dropped`)
  }
  t.equal(seen.authorization, `Bearer ${student.access_token}`, 'the token passes unchanged')
  t.equal(seen['x-request-id'], 'client-chosen-id.1', 'a well-formed request id is kept')
  t.equal(
    system.files.hits.at(-1),
    'GET /academic/class-sessions?status=requested',
    'path and query unchanged',
  )
  t.equal(res.headers['x-request-id'], 'client-chosen-id.1')

  // A percent-encoded path parameter (the email's @) reaches the service as sent.
  const byEmail = await app.inject({
    url: `/user/by-id/${encodeURIComponent(student.id)}`,
    headers: bearer(student.access_token),
  })
  t.equal(byEmail.statusCode, 200, byEmail.body)
  const encoded = await app.inject({
    url: `/user/by-email/${encodeURIComponent(byEmail.json().email)}`,
    headers: bearer(student.access_token),
  })
  t.equal(encoded.statusCode, 200, encoded.body)
  t.equal(encoded.json().id, student.id)

  const made = await app.inject({
    url: '/academic/class-sessions',
    headers: { ...bearer(student.access_token), 'x-request-id': 'bad id with spaces' },
  })
  const id = made.headers['x-request-id'] as string
  t.match(id, /^[0-9a-f-]{36}$/, 'a malformed one is replaced')
  t.equal(system.files.echoed.at(-1)?.['x-request-id'], id, 'and the new one passed on')
})

t.test('a 10 MiB upload and its download stream through intact, memory flat', async (t) => {
  const system = await startSystem(t)
  const { files } = system
  const tutor = await loginAs(system, 'tutor')
  await system.gateway.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(system.gateway.app.server.address() as AddressInfo).port}`
  const size = 10 * 1024 * 1024
  // Waits for a step of the other side, failing instead of hanging when it never comes.
  const within = (what: string, step: Promise<void>) =>
    Promise.race([
      step,
      sleep(5000).then(() => {
        throw new Error(`${what} did not happen: the gateway holds the body back`)
      }),
    ])

  async function roundTrip() {
    // The body is made as it is sent (the test holds no 10 MiB buffer). Half-way, it waits
    // until the service has bytes: a gateway that buffered the whole body would never pass.
    const seed = randomBytes(64 * 1024)
    const sent = createHash('sha256')
    const arrives = files.uploadArrives()
    async function* body() {
      for (let offset = 0; offset < size; offset += seed.length) {
        if (offset === size / 2) await within('the service receiving the upload', arrives)
        sent.update(seed)
        yield seed
      }
    }
    const up = await request(`${base}/academic/tutor-profiles/p1/documents`, {
      method: 'POST',
      headers: { ...bearer(tutor.access_token), 'content-type': 'application/pdf' },
      body: Readable.from(body()),
    })
    t.equal(up.statusCode, 201)
    const stored = (await up.body.json()) as { id: string; size: number; sha256: string }
    const sentHash = sent.digest('hex')
    t.equal(stored.size, size)
    t.equal(stored.sha256, sentHash, 'the service got every byte')

    // The service sends half, then waits until the client has bytes.
    const clientHasBytes = Promise.withResolvers<void>()
    files.downloadGate = () => within('the client receiving the download', clientHasBytes.promise)
    const down = await request(`${base}/academic/tutor-profiles/p1/documents/${stored.id}`, {
      headers: bearer(tutor.access_token),
    })
    t.equal(down.statusCode, 200)
    t.equal(down.headers['content-length'], String(size))
    const got = createHash('sha256')
    for await (const chunk of down.body) {
      clientHasBytes.resolve()
      got.update(chunk)
    }
    t.equal(got.digest('hex'), sentHash, 'the download is the upload')
  }

  await roundTrip() // warm up: pools, caches, code
  global.gc?.()
  const before = process.memoryUsage()
  for (let i = 0; i < 5; i++) await roundTrip()
  global.gc?.()
  const after = process.memoryUsage()
  // The half-way gates above prove the streaming; this only catches bodies kept after they
  // passed. For the whole process (client, gateway and service), and so loose that a busy
  // machine's garbage does not fail it: 100 MiB moved, keeping them would show 100.
  const heap =
    (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 1048576
  const rss = (after.rss - before.rss) / 1048576
  t.comment(`heap and buffers grew ${heap.toFixed(1)} MiB, RSS ${rss.toFixed(1)} MiB`)
  t.ok(heap < 50, `heap and buffers keep no body (grew ${heap.toFixed(1)} MiB)`)
  t.ok(rss < 96, `RSS keeps no body (grew ${rss.toFixed(1)} MiB for 100 MiB moved)`)
})

t.test('bodies over their cap are 413 problems; the service sees nothing', async (t) => {
  const system = await startSystem(t, {
    settings: { bodyLimits: { json: 1024, upload: 64 * 1024 } },
  })
  const tutor = await loginAs(system, 'tutor')
  await system.gateway.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(system.gateway.app.server.address() as AddressInfo).port}`
  const before = system.files.hits.length

  const declared = await request(`${base}/academic/tutor-profiles/p1/documents`, {
    method: 'POST',
    headers: { ...bearer(tutor.access_token), 'content-type': 'application/pdf' },
    body: Buffer.alloc(65 * 1024),
  })
  t.equal(declared.statusCode, 413)
  t.equal(((await declared.body.json()) as { status: number }).status, 413)
  t.equal(system.files.hits.length, before, 'refused on its Content-Length, before the service')

  const json = await request(`${base}/user/${tutor.id}/update`, {
    method: 'PATCH',
    headers: { ...bearer(tutor.access_token), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'x'.repeat(2000) }),
  })
  t.equal(json.statusCode, 413, 'JSON routes have the smaller cap')
  await json.body.dump()

  // Chunked: no Content-Length, so the gateway counts as it streams and cuts it off.
  const chunked = await request(`${base}/academic/tutor-profiles/p1/documents`, {
    method: 'POST',
    headers: { ...bearer(tutor.access_token), 'content-type': 'application/pdf' },
    body: Readable.from([Buffer.alloc(40 * 1024), Buffer.alloc(40 * 1024)]),
  }).catch((err: Error) => err)
  if (chunked instanceof Error) t.pass(`the upload was cut off (${chunked.message})`)
  else {
    t.equal(chunked.statusCode, 413)
    await chunked.body.dump()
  }
})

t.test(
  'a stopped service is a 503 problem within the timeout; the others keep answering',
  async (t) => {
    const system = await startSystem(t, { upstream: { headersTimeoutMs: 3000 } })
    const { app } = system.gateway
    const student = await loginAs(system, 'student')
    await system.files.stop()

    const started = performance.now()
    const down = await app.inject({
      url: '/academic/class-sessions',
      headers: bearer(student.access_token),
    })
    const took = performance.now() - started
    t.equal(down.statusCode, 503, down.body)
    t.match(down.json(), { status: 503, detail: /academic service is unavailable/ })
    t.equal(down.headers['retry-after'], '1')
    t.ok(took < 3000, `answered in ${took.toFixed(0)} ms`)

    const me = await app.inject({ url: '/user/me', headers: bearer(student.access_token) })
    t.equal(me.statusCode, 200, 'user-wallet still answers')
    const notDeployed = await app.inject({
      url: '/notifications',
      headers: bearer(student.access_token),
    })
    t.equal(notDeployed.statusCode, 503, 'a service that does not exist yet is 503 too')
  },
)

t.test('a client whose body stops arriving is cut off after the request timeout', async (t) => {
  const system = await startSystem(t, { settings: { clientRequestTimeoutMs: 400 } })
  const base = await system.gateway.app.listen({ host: '127.0.0.1', port: 0 })
  const { afterMs, answer } = await stallAfterPartOfABody(base, '/auth/signup')
  t.ok(afterMs >= 350, `not before the timeout (${Math.round(afterMs)} ms)`)
  t.ok(afterMs < 5000, `but soon after it (${Math.round(afterMs)} ms)`)
  t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(answer, /"status":408/)
})

t.test('a slow service is a 504 problem after the timeout', async (t) => {
  const slow = http.createServer(() => {
    // never answers
  })
  const slowUrl = await listen(t, slow)
  const system = await startSystem(t, {
    origins: { academic: [slowUrl] } as never,
    upstream: { headersTimeoutMs: 300 },
  })
  const student = await loginAs(system, 'student')
  const res = await system.gateway.app.inject({
    url: '/academic/class-sessions',
    headers: bearer(student.access_token),
  })
  t.equal(res.statusCode, 504, res.body)
  t.match(res.json(), { status: 504, detail: /did not answer in time/ })
})

t.test('replicas share the load and a dead one is skipped', async (t) => {
  const system = await startSystem(t)
  const second = await startWallet(t, system.auth)
  const dead = await deadOrigin()
  const gateway = await startGateway(t, {
    jwksUrl: system.auth.jwksUrl,
    origins: {
      auth: [system.auth.url],
      user: [system.wallet.url, second.url, dead],
      academic: [system.files.url],
      notifications: [dead],
    },
  })
  const student = await loginAs({ auth: system.auth, wallet: system.wallet, gateway }, 'student')
  await second.addUser(student.id, 'student')
  const firstBefore = system.wallet.hits.length
  const secondBefore = second.hits.length
  const statuses = new Set<number>()
  for (let i = 0; i < 12; i++) {
    const res = await gateway.app.inject({ url: '/user/me', headers: bearer(student.access_token) })
    statuses.add(res.statusCode)
  }
  t.same([...statuses], [200], 'every GET answered, the dead replica retried elsewhere')
  t.ok(system.wallet.hits.length - firstBefore >= 4, 'the first replica got its share')
  t.ok(second.hits.length - secondBefore >= 4, 'the second replica got its share')
  const deadReplica = gateway.upstreams.user.replicas[2]
  t.ok(deadReplica && !gateway.upstreams.user.isHealthy(deadReplica), 'the dead one is marked down')
})

t.test(
  'a replica whose readiness probe fails leaves the rotation until it passes again',
  async (t) => {
    const system = await startSystem(t)
    const second = await startFileStore(t)
    const gateway = await startGateway(t, {
      jwksUrl: system.auth.jwksUrl,
      origins: {
        auth: [system.auth.url],
        user: [system.wallet.url],
        academic: [system.files.url, second.url],
        notifications: [await deadOrigin()],
      },
      upstream: { probeMs: 50 },
    })
    const student = await loginAs({ auth: system.auth, gateway }, 'student')
    const academic = gateway.upstreams.academic
    const [, secondReplica] = academic.replicas
    const calls = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await gateway.app.inject({
          url: '/academic/class-sessions',
          headers: bearer(student.access_token),
        })
        t.equal(res.statusCode, 200)
      }
    }
    second.ready = false
    await eventually(() => secondReplica && !secondReplica.ready, { what: 'the probe to see it' })
    const before = second.echoed.length
    await calls(6)
    t.equal(second.echoed.length, before, 'the unready replica got nothing')

    second.ready = true
    await eventually(() => secondReplica?.ready, { what: 'the probe to see it back' })
    await calls(6)
    t.ok(second.echoed.length - before >= 2, 'back in the rotation')
  },
)

t.test('rate limits per address, stricter on /auth: 429 problem with Retry-After', async (t) => {
  const system = await startSystem(t, { settings: { rateLimitAuthMax: 3, rateLimitMax: 5 } })
  const { app } = system.gateway
  const from = (remoteAddress: string) => ({ url: '/auth/.well-known/jwks.json', remoteAddress })
  for (let i = 0; i < 3; i++) t.equal((await app.inject(from('10.0.0.1'))).statusCode, 200)
  const limited = await app.inject(from('10.0.0.1'))
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /^application\/problem\+json/)
  t.match(limited.json(), { status: 429 })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After in seconds')
  t.equal((await app.inject(from('10.0.0.2'))).statusCode, 200, 'another address is not limited')
  // The general bucket is separate and larger.
  const general = await app.inject({ url: '/', remoteAddress: '10.0.0.1' })
  t.equal(general.statusCode, 200)
})

t.test('CORS from the environment; security headers', async (t) => {
  const system = await startSystem(t)
  const { app } = system.gateway
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/user/me',
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example')
  t.equal(preflight.headers['access-control-allow-credentials'], 'true')
  const bare = await app.inject({ method: 'OPTIONS', url: '/user/me' })
  t.equal(bare.statusCode, 204, 'an OPTIONS without preflight headers is no error')
  const stranger = await app.inject({ url: '/', headers: { origin: 'https://evil.example' } })
  t.notOk(stranger.headers['access-control-allow-origin'], 'an unlisted origin gets no CORS')

  const any = await startSystem(t, { settings: { corsOrigins: ['*'] } })
  const open = await any.gateway.app.inject({ url: '/', headers: { origin: 'https://x.example' } })
  t.equal(open.headers['access-control-allow-origin'], '*')
  t.notOk(open.headers['access-control-allow-credentials'], 'never * with credentials')

  const root = await app.inject({ url: '/' })
  t.match(root.headers['content-security-policy'], /default-src 'self'/)
  t.equal(root.headers['x-content-type-options'], 'nosniff')
  t.ok(root.headers['strict-transport-security'])
})

t.test('a Server-Sent Events stream passes event by event, with no body timeout', async (t) => {
  // A notifications stand-in: an event, a pause longer than the upstream timeouts, another.
  const release = Promise.withResolvers<void>()
  const sse = http.createServer(async (req, res) => {
    if (req.url !== '/notifications/stream') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    res.write('id: 1\ndata: first\n\n')
    await release.promise
    res.end('id: 2\ndata: second\n\n')
  })
  const sseUrl = await listen(t, sse)
  const system = await startSystem(t, {
    origins: { notifications: [sseUrl] } as never,
    upstream: { headersTimeoutMs: 500, bodyTimeoutMs: 500 },
  })
  const student = await loginAs(system, 'student')
  await system.gateway.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(system.gateway.app.server.address() as AddressInfo).port}`
  const res = await request(`${base}/notifications/stream`, {
    headers: bearer(student.access_token),
  })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/event-stream/)
  const received: string[] = []
  for await (const chunk of res.body) {
    received.push(chunk.toString())
    if (received.length === 1) {
      t.match(received[0], /data: first/, 'the first event arrives while the stream is open')
      // Longer than the body timeout of other routes: the stream must not be cut.
      await sleep(900)
      release.resolve()
    }
  }
  t.match(received.join(''), /data: second/, 'and the second after the pause')
})

t.test(
  'a service that stalls in the middle of its answer: a problem, or the answer cut off',
  async (t) => {
    const stalling = http.createServer((req, res) => {
      // Headers and a part of the body, then nothing more.
      const big = req.url?.includes('big')
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': big ? 1024 * 1024 : 100,
      })
      res.write(Buffer.alloc(big ? 100 * 1024 : 10))
    })
    const stallingUrl = await listen(t, stalling)
    const system = await startSystem(t, {
      origins: { academic: [stallingUrl] } as never,
      upstream: { bodyTimeoutMs: 300 },
    })
    const student = await loginAs(system, 'student')
    const small = await system.gateway.app.inject({
      url: '/academic/class-sessions/s1',
      headers: bearer(student.access_token),
    })
    t.equal(small.statusCode, 504, 'nothing was sent yet: a 504 problem')
    t.match(small.headers['content-type'], /^application\/problem\+json/)
    t.notOk(small.headers['content-length'] === '100', "the service's headers are not kept")

    await system.gateway.app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(system.gateway.app.server.address() as AddressInfo).port}`
    const big = await request(`${base}/academic/class-sessions/big`, {
      headers: bearer(student.access_token),
    })
    t.equal(big.statusCode, 200, 'a large answer starts streaming at once')
    const outcome = await big.body.arrayBuffer().then(
      (b) => `complete ${b.byteLength}`,
      (err: Error) => `cut off (${err.message})`,
    )
    t.match(outcome, /^cut off/, 'and is cut off when the service stalls, not left hanging')
  },
)
