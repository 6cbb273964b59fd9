// fast-check generators of account fields for property and fuzz tests: mostly near the edges of
// the rules (a domain label of 63 or 64 characters, a 254-character email, a name with a
// control or bidirectional-override character, astral characters counted as one), some valid,
// some anything at all.
import { ContractError, type EventData, type EventType, makeEnvelope } from '@tms/contracts'
import fc from 'fast-check'

const anyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
  )

/** Characters that break rules when dropped into otherwise good input. */
export const awkwardCharacter = fc.constantFrom(
  '\u0000',
  '\u0007',
  '\t',
  '\n',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u061c',
  '\u200e',
  '\u200f',
  '\u2028',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  '\ufeff',
  '\u00a0',
  ' ',
  '"',
  "'",
  '\\',
  '@',
  '.',
  '-',
  '[',
  ']',
  'é',
  'İ',
  'ß',
  '😀',
  '\ud800',
)

/** Puts a few awkward characters at random places of generated text. */
function spoil(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(text, fc.array(fc.tuple(fc.nat(), awkwardCharacter), { minLength: 1, maxLength: 3 }))
    .map(([s, inserts]) =>
      inserts.reduce((acc, [at, c]) => {
        const i = at % (acc.length + 1)
        return acc.slice(0, i) + c + acc.slice(i)
      }, s),
    )
}

const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const fromChars = (chars: string, minLength: number, maxLength: number) =>
  fc.array(fc.constantFrom(...chars), { minLength, maxLength }).map((cs) => cs.join(''))

/** A domain label of about the given length range: letters, digits, hyphens inside. */
const domainLabel = (minLength: number, maxLength: number) =>
  fromChars(`${alnum}-`, minLength, maxLength).map((s) =>
    s.length > 1 ? `a${s.slice(1, -1)}z` : s.replace('-', 'a'),
  )

/** Emails: valid ones, ones at the length limits of labels, local part and whole, and junk. */
export const emailLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.emailAddress() },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fromChars(`${alnum}._+-`, 1, 70),
        fc.array(domainLabel(1, 70), { minLength: 1, maxLength: 5 }),
        fc.constantFrom('com', 'org', 'io', 'x', 'xn--p1ai', '1', 'c0m', 'a-'),
      )
      .map(([local, labels, tld]) => `${local}@${[...labels, tld].join('.')}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 230, max: 260 }), fc.emailAddress())
      .map(([length, e]) => {
        const [local, domain] = e.split('@') as [string, string]
        const pad = Math.max(0, length - e.length)
        const labels = Array.from({ length: Math.ceil(pad / 60) }, (_, i) =>
          'd'.repeat(Math.min(59, pad - i * 60)),
        ).filter(Boolean)
        return `${local}@${[...labels, domain].join('.')}`
      }),
  },
  { weight: 2, arbitrary: spoil(fc.emailAddress()) },
  { weight: 1, arbitrary: fc.mixedCase(fc.emailAddress()) },
  { weight: 1, arbitrary: anyText(300) },
)

/** Usernames: valid in any case, at the length limits, with other characters, and junk. */
export const usernameLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fromChars(`${alnum}_.-`, 1, 40) },
  { weight: 2, arbitrary: spoil(fromChars(`${alnum}_.-`, 2, 33)) },
  { weight: 1, arbitrary: anyText(40) },
)

/** Names: any text, with awkward characters, at the length limit in astral characters. */
export const nameLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }) },
  { weight: 2, arbitrary: spoil(fc.string({ unit: 'grapheme', maxLength: 60 })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 195, max: 205 }), fc.constantFrom('a', 'é', '😀', '字', ' '))
      .map(([n, c]) => c.repeat(n)),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^\s{1,5}$/) },
  { weight: 2, arbitrary: anyText(220) },
)

/** Phones: valid shapes, at the limits, and junk. */
export const phoneLike: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.boolean(), fromChars('0123456789', 1, 3), fromChars('0123456789 ()-', 0, 35))
      .map(([plus, first, rest]) => `${plus ? '+' : ''}${first}${rest}`),
  },
  { weight: 1, arbitrary: spoil(fromChars('0123456789 +', 3, 20)) },
  { weight: 1, arbitrary: anyText(40) },
)

/** Whether the event contract accepts the data (what a producer's outbox write would check). */
export function contractAccepts<T extends EventType>(type: T, data: unknown): boolean {
  try {
    makeEnvelope(type, data as EventData<T>, { producer: 'test' })
    return true
  } catch (err) {
    if (err instanceof ContractError) return false
    throw err
  }
}
