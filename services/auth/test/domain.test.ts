import { normalizeEmail, normalizeUsername } from '@tms/contracts'
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
import { refreshDecision, refreshTokenHash } from '../src/domain/tokens.ts'
import { RateLimiter } from '../src/rate-limit.ts'
import { cheapArgon2, TestClock } from './helpers.ts'

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
