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

/**
 * A JSON body near a route's schema: mostly the record as generated, else with a field left
 * out, an unknown field added (`role`, `balance`, `__proto__`…), a field replaced by any JSON
 * value, or any JSON value at all.
 */
export function nearBody(record: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  const withoutOne = record.chain((r) => {
    const keys = Object.keys(r)
    if (keys.length === 0) return fc.constant(r)
    return fc.constantFrom(...keys).map((k) => {
      const { [k]: _, ...rest } = r
      return rest
    })
  })
  const withExtra = fc
    .tuple(
      record,
      fc.constantFrom('role', 'balance', 'is_admin', 'status', '__proto__', 'x'),
      fc.jsonValue(),
    )
    .map(([r, k, v]) => ({ ...r, [k]: v }))
  const oneReplaced = record.chain((r) => {
    const keys = Object.keys(r)
    if (keys.length === 0) return fc.constant(r)
    return fc
      .tuple(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 2 }))
      .map(([k, v]) => ({ ...r, [k]: v }))
  })
  return fc.oneof(
    { weight: 8, arbitrary: record },
    { weight: 1, arbitrary: withoutOne },
    { weight: 1, arbitrary: withExtra },
    { weight: 2, arbitrary: oneReplaced },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  )
}

export interface EncodedBody {
  headers: Record<string, string>
  payload?: string
}

const flatForm = (value: unknown) =>
  new URLSearchParams(
    value && typeof value === 'object'
      ? Object.entries(value).map(([k, v]): [string, string] => [
          k,
          typeof v === 'string' ? v : JSON.stringify(v),
        ])
      : [],
  ).toString()

/** A body as a client may send it: JSON mostly, else a form, raw text of any type, or none. */
export function encodedBody(value: fc.Arbitrary<unknown>): fc.Arbitrary<EncodedBody> {
  return fc.oneof(
    {
      weight: 8,
      arbitrary: value.map((v) => ({
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(v) ?? 'null',
      })),
    },
    {
      weight: 1,
      arbitrary: value.map((v) => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: flatForm(v),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'application/json',
            'application/json; charset=latin1',
            'text/plain',
            'application/xml',
            'multipart/form-data; boundary=x',
            'application/x-www-form-urlencoded',
          ),
          fc.oneof(
            fc.string({ maxLength: 200 }),
            fc.constantFrom('{', '{"a":', 'null', '[]', '""', '{"__proto__":{"x":1}}'),
          ),
        )
        .map(([type, payload]) => ({ headers: { 'content-type': type }, payload })),
    },
    { weight: 1, arbitrary: fc.constant({ headers: {} }) },
  )
}

/** An Authorization header: one of the given tokens, none, or a broken one. */
export function authorization(tokens: string[]): fc.Arbitrary<string | undefined> {
  const good = tokens.map((t) => `Bearer ${t}`)
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...good) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom(
          'Bearer',
          'Bearer ',
          'Basic YWxpY2U6cHc=',
          'Bearer a.b.c',
          `${good[0]}==`,
          `${good[0]?.slice(0, -3)}AAA`,
          `Bearer ${tokens[0]?.split('.').slice(0, 2).join('.')}.`,
        ),
        fc.string({ maxLength: 100 }).map((s) => `Bearer ${s}`),
      ),
    },
  )
}

/** Text as a URL carries it: percent-encoded UTF-8 (a lone surrogate has none: U+FFFD). */
export function urlPart(text: string): string {
  return encodeURIComponent(text.toWellFormed())
}

/** A path segment: one of the given, or an awkward one (encoded, long, dots, percent junk). */
export function pathSegment(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 80 }).map(urlPart) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('%', '%E0%A4%A', '..', '.', '%2F', 'x'.repeat(300), '%00', '0'),
    },
  )
}
