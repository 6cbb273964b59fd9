import fc from 'fast-check'
import t from 'tap'
import { Compile } from 'typebox/compile'
import {
  Email,
  Name,
  normalizeEmail,
  normalizeUsername,
  Phone,
  Username,
  UsernameInput,
} from '../src/index.ts'

const email = Compile(Email)
const name = Compile(Name)
const phone = Compile(Phone)
const username = Compile(Username)
const usernameInput = Compile(UsernameInput)

/** A test message that shows every character, without breaking a TAP line. */
const show = (s: string) =>
  JSON.stringify(s).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`)

t.test('emails: RFC 5321 limits, no quoted parts or address literals', async (t) => {
  const label63 = 'a'.repeat(63)
  for (const ok of [
    'ada@example.com',
    'Ada.Lovelace+tms@Example.CO.uk',
    `ada@${label63}.com`,
    `${'a'.repeat(64)}@example.com`,
    "o'brien@example.ie",
    'a@b.c',
    'x@xn--p1ai.xn--p1ai',
  ]) {
    t.ok(email.Check(ok), ok)
  }
  for (const bad of [
    `ada@${label63}a.com`,
    `${'a'.repeat(65)}@example.com`,
    `a@${`${'b'.repeat(60)}.`.repeat(5)}com`,
    'ada@localhost',
    'ada@[10.0.0.1]',
    '"ada lovelace"@example.com',
    'ada@-example.com',
    'ada@example-.com',
    'ada@example.1com',
    '.ada@example.com',
    'ada..l@example.com',
    'ada@example.com ',
    ' ada@example.com',
    'adä@example.com',
    'ada@exämple.com',
    'ada@example..com',
    'ada@@example.com',
  ]) {
    t.notOk(email.Check(bad), bad)
  }
})

t.test('names: no control or bidirectional characters; 200 code points', async (t) => {
  for (const ok of [
    'Ada',
    'Ada Lovelace',
    'José Ñúñez',
    '李小龍',
    'عائشة',
    '😀'.repeat(200),
    'a b',
  ]) {
    t.ok(name.Check(ok), show(ok))
  }
  for (const bad of [
    '',
    '   ',
    '\t',
    'Ada\u0000',
    'Ada\u0007',
    'Ada\nLovelace',
    'Ada\u007f',
    'Ada\u0085',
    'Ada\u200e',
    'Ada\u200f',
    'Ada\u061c',
    'Ada\u202egnp.exe',
    'Ada\u2066x\u2069',
    'Ada\u2028',
    'a'.repeat(201),
    '😀'.repeat(201),
  ]) {
    t.notOk(name.Check(bad), show(bad))
  }
})

t.test('phones and usernames', async (t) => {
  t.ok(phone.Check('+44 20 7946 0000'))
  t.ok(phone.Check('030 1234-5678'))
  t.notOk(phone.Check('+'))
  t.notOk(phone.Check('12'))
  t.notOk(phone.Check(`1${'2'.repeat(32)}`))
  t.notOk(phone.Check('call me'))
  t.ok(username.Check('ada_l.99'))
  t.notOk(username.Check('Ada'), 'the stored form is lowercase')
  t.ok(usernameInput.Check('Ada'), 'a client may type any case')
  t.notOk(usernameInput.Check('ad'))
  t.notOk(usernameInput.Check('a'.repeat(33)))
  t.notOk(usernameInput.Check('ada@example.com'), 'never an email')
})

// (fast-check prints the seed of a failing run; @tms/testing's fuzzSettings would be a cycle.)
t.test('what a client may type normalises to what is stored', async () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]{3,32}$/), (typed) => {
      return usernameInput.Check(typed) && username.Check(normalizeUsername(typed))
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(fc.mixedCase(fc.emailAddress()), (typed) => {
      return !email.Check(typed) || email.Check(normalizeEmail(typed))
    }),
    { numRuns: 2000 },
  )
})
