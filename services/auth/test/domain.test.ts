import { normalizeEmail, normalizeUsername } from '@tms/contracts'
import { HttpProblem } from '@tms/http'
import { TestClock } from '@tms/testing'
import t from 'tap'
import { checkOtp, generateOtp, OTP_MAX_FAILED_ATTEMPTS, otpHash } from '../src/domain/otp.ts'
import {
  createPasswordChecker,
  hashPassword,
  needsRehash,
  OWASP_ARGON2,
  passwordProblem,
  verifyPassword,
} from '../src/domain/password.ts'
import { RateLimiter } from '../src/domain/rate-limit.ts'
import { AccountThrottle } from '../src/domain/throttle.ts'
import { refreshDecision, refreshTokenHash } from '../src/domain/tokens.ts'
import { HashQueue } from '../src/hash-queue.ts'
import { problemFor } from '../src/routes/problems.ts'
import { cheapArgon2 } from './helpers.ts'

t.test('password policy', async (t) => {
  t.equal(passwordProblem('12345678'), undefined)
  t.equal(passwordProblem('1234567'), 'must be at least 8 characters')
  t.equal(passwordProblem('p'.repeat(128)), undefined)
  t.equal(passwordProblem('p'.repeat(129)), 'must be at most 128 characters')
  t.equal(passwordProblem('ü'.repeat(8)), undefined, 'characters, not bytes')
  t.equal(
    passwordProblem('Alice_Smith', { username: 'alice_smith' }),
    'must not be the username or the email',
  )
})

t.test('argon2id hashes in PHC form; the defaults meet OWASP', async (t) => {
  t.same(OWASP_ARGON2, { memoryKib: 19456, passes: 2, parallelism: 1 })
  const phc = await hashPassword('correct horse', cheapArgon2)
  t.match(phc, /^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  t.ok(await verifyPassword('correct horse', phc))
  t.notOk(await verifyPassword('correct horsE', phc))
  t.notOk(await verifyPassword('x', 'not a hash'))
  t.not(await hashPassword('correct horse', cheapArgon2), phc, 'salted')
  // NFC: "é" typed as one code point or as e + combining accent is the same password.
  t.ok(await verifyPassword('caf\u00e9 latte', await hashPassword('cafe\u0301 latte', cheapArgon2)))
  t.ok(needsRehash(phc, OWASP_ARGON2))
  t.notOk(needsRehash(phc, cheapArgon2))
  const real = await hashPassword('correct horse', OWASP_ARGON2)
  t.match(real, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
})

t.test('an unknown account costs a hash too', async (t) => {
  const checker = createPasswordChecker(cheapArgon2)
  t.equal(await checker.check('anything', undefined), false)
  t.equal(await checker.check('pw-123456', await checker.hash('pw-123456')), true)
})

t.test('OTP: six digits, HMAC bound to the account, expiry and death', async (t) => {
  for (let i = 0; i < 50; i++) t.match(generateOtp(), /^\d{6}$/)
  const secret = 's'.repeat(32)
  const now = new Date('2026-01-01T00:00:00Z')
  const stored = {
    code_hash: otpHash(secret, 'u1', '123456'),
    expires_at: new Date(now.getTime() + 1000),
    failed_attempts: 0,
  }
  t.not(otpHash(secret, 'u2', '123456'), stored.code_hash)
  t.not(otpHash('t'.repeat(32), 'u1', '123456'), stored.code_hash)
  t.equal(checkOtp(stored, secret, 'u1', '123456', now), 'valid')
  t.equal(checkOtp(stored, secret, 'u1', '123457', now), 'wrong')
  t.equal(checkOtp(stored, secret, 'u1', '123456', new Date(now.getTime() + 1000)), 'expired')
  t.equal(
    checkOtp({ ...stored, failed_attempts: OTP_MAX_FAILED_ATTEMPTS }, secret, 'u1', '123456', now),
    'dead',
  )
})

t.test('refresh token policy', async (t) => {
  const now = new Date()
  const later = new Date(now.getTime() + 1000)
  const live = { expires_at: later, spent_at: null, revoked_at: null }
  t.equal(refreshDecision(live, now), 'rotate')
  t.equal(refreshDecision({ ...live, spent_at: now }, now), 'reuse')
  t.equal(refreshDecision({ ...live, spent_at: now, revoked_at: now }, now), 'refuse')
  t.equal(refreshDecision({ ...live, expires_at: now }, now), 'refuse')
  t.equal(refreshDecision(undefined, now), 'refuse')
  t.match(refreshTokenHash('abc'), /^[0-9a-f]{64}$/)
})

t.test('usernames and emails normalise to lowercase', async (t) => {
  t.equal(normalizeUsername(' Ada.L '), 'ada.l')
  t.equal(normalizeEmail('Ada@Example.COM'), 'ada@example.com')
})

t.test('the rate limiter counts per key in fixed windows', async (t) => {
  const clock = new TestClock()
  const limiter = new RateLimiter({ max: 2, windowMs: 10_000, clock })
  t.equal(limiter.hit('a'), 0)
  t.equal(limiter.hit('a'), 0)
  t.equal(limiter.hit('a'), 10)
  t.equal(limiter.hit('b'), 0)
  clock.advance(4_500)
  t.equal(limiter.hit('a'), 6)
  clock.advance(5_500)
  t.equal(limiter.hit('a'), 0)
})

/** The status and Retry-After of the problem a refusal is answered with. */
function refusal(err: unknown): [number, string | undefined] {
  const problem = problemFor(err)
  if (!(problem instanceof HttpProblem) || problem === err) throw err
  return [problem.statusCode, problem.headers['retry-after']]
}

function refused(fn: () => unknown): [number, string | undefined] | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return refusal(err)
  }
}

t.test('the hash queue runs at most its concurrency and refuses beyond its queue', async (t) => {
  const queue = new HashQueue({ concurrency: 2, maxQueued: 1 })
  const gates: (() => void)[] = []
  const started: number[] = []
  const task = (n: number) => () =>
    new Promise<number>((resolve) => {
      started.push(n)
      gates[n] = () => resolve(n)
    })
  const runs = [1, 2, 3].map((n) => queue.run(task(n)))
  await Promise.resolve()
  t.same(started, [1, 2], 'two run')
  t.equal(queue.queued, 1, 'one waits')
  t.same(await queue.run(task(4)).catch(refusal), [503, '1'], 'the next is turned away')
  gates[1]?.()
  t.equal(await runs[0], 1)
  await Promise.resolve()
  t.same(started, [1, 2, 3], 'the waiting one took the free place')
  t.equal(queue.running, 2)
  gates[2]?.()
  gates[3]?.()
  t.same(await Promise.all(runs), [1, 2, 3])
  t.equal(queue.running, 0)
  t.same(queue.stats, { peakRunning: 2, peakQueued: 1, refused: 1 })
  // A failing task gives its place back too.
  await t.rejects(
    queue.run(() => Promise.reject(new Error('boom'))),
    /boom/,
  )
  t.equal(queue.running, 0)
})

t.test('the account throttle: reservations, free failures, doubling delays', async (t) => {
  const clock = new TestClock()
  const throttle = new AccountThrottle({
    freeFailures: 2,
    baseDelayMs: 1000,
    maxDelayMs: 4000,
    windowMs: 60_000,
    clock,
  })
  t.same(
    [1, 2, 3, 4, 5, 6].map((f) => throttle.delayMs(f)),
    [0, 1000, 2000, 4000, 4000, 4000],
  )
  const a = throttle.reserve('u1', 'A')
  const b = throttle.reserve('u1', 'A')
  t.same(
    refused(() => throttle.reserve('u1', 'A')),
    [429, '1'],
    'two in flight use it up',
  )
  a.succeeded()
  const c = throttle.reserve('u1', 'A')
  b.failed()
  c.failed()
  t.same(
    refused(() => throttle.reserve('u1', 'A')),
    [429, '1'],
  )
  const fresh = throttle.reserve('u1', 'B')
  t.same(
    refused(() => throttle.reserve('u1', 'B')),
    [429, '1'],
    'one at a time from B',
  )
  fresh.abandoned()
  clock.advance(1000)
  const probe = throttle.reserve('u1', 'A')
  t.same(
    refused(() => throttle.reserve('u1', 'A')),
    [429, '1'],
    'one probe at a time',
  )
  probe.failed()
  t.same(
    refused(() => throttle.reserve('u1', 'A')),
    [429, '2'],
  )
  t.doesNotThrow(() => throttle.reserve('u2', 'A').failed(), 'another account is apart')
})
