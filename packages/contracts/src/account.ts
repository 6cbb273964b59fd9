// The rules of an account's fields, in one place: the auth and wallet routes validate requests
// with these schemas and the event catalogue validates events with them, so a value a route
// accepts is never one an event refuses (test/account.test.ts checks it with generated input).
//
// Every rule is a `pattern` and lengths, never a `format`: Fastify's Ajv and TypeBox's compiler
// each bring their own idea of `format: email`, but both read a pattern as a JavaScript RegExp
// with the `u` flag and count lengths in code points, so they agree on these. The patterns are
// ASCII, apart from the characters a name may not hold.
import Type from 'typebox'
import { Compile } from 'typebox/compile'

export const roles = ['student', 'tutor', 'admin'] as const
export type Role = (typeof roles)[number]

export const Role = Type.Union([
  Type.Literal('student'),
  Type.Literal('tutor'),
  Type.Literal('admin'),
])
/** The roles a person may choose at signup; `admin` only ever comes from another admin. */
export const SelfServiceRole = Type.Union([Type.Literal('student'), Type.Literal('tutor')], {
  description: '`admin` cannot be chosen at signup',
})

export const USERNAME_MIN_LENGTH = 3
export const USERNAME_MAX_LENGTH = 32
/** A username as stored and published: lowercase, so it can never be an email. */
export const Username = Type.String({
  pattern: `^[a-z0-9_.-]{${USERNAME_MIN_LENGTH},${USERNAME_MAX_LENGTH}}$`,
})
/** A username as a client may type it: any case; `normalizeUsername` gives the stored form. */
export const UsernameInput = Type.String({
  pattern: `^[A-Za-z0-9_.-]{${USERNAME_MIN_LENGTH},${USERNAME_MAX_LENGTH}}$`,
  description: 'letters, digits, `_`, `.` or `-`, 3 to 32; stored in lowercase',
})

export const EMAIL_MAX_LENGTH = 254
const atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
const label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const topLabel = '[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
/**
 * An address a mail server will take (RFC 5321): a dot-atom local part of at most 64
 * characters, and a domain of at least two labels of 1 to 63 letters, digits and inner
 * hyphens, the last starting with a letter; at most 254 characters in all. Quoted local parts
 * and address literals (`"a b"@x.org`, `a@[10.0.0.1]`) are refused: nobody signs up with them.
 */
export const EMAIL_PATTERN = `^(?=.{1,64}@)${atom}(?:\\.${atom})*@(?:${label}\\.)+${topLabel}$`
/** Any case is accepted; `normalizeEmail` gives the stored, lowercase form. */
export const Email = Type.String({
  pattern: EMAIL_PATTERN,
  maxLength: EMAIL_MAX_LENGTH,
  description: 'an email address; stored in lowercase',
})

export const NAME_MAX_LENGTH = 200
/**
 * What a name may not hold: C0 and C1 control characters (NUL included), DEL, the bidirectional
 * marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E,
 * U+2066–U+2069), which make a name display as something else, and the line and paragraph
 * separators (U+2028, U+2029).
 */
const NAME_FORBIDDEN = '\\x00-\\x1F\\x7F-\\x9F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069'
/** A person's name: 1 to 200 characters, not only spaces, none of NAME_FORBIDDEN. */
export const Name = Type.String({
  pattern: `^(?!\\s*$)[^${NAME_FORBIDDEN}]+$`,
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  description: 'no control or bidirectional-override characters',
})

export const PHONE_MAX_LENGTH = 32
/** Digits, spaces, parentheses and hyphens, an optional leading `+`; 3 to 32 characters. */
export const Phone = Type.String({
  pattern: '^\\+?[0-9][0-9 ()-]{2,31}$',
  maxLength: PHONE_MAX_LENGTH,
})

/** The stored form of a username: clients may type it in any case. */
export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase()
}

/** The stored form of an email: uniqueness is case-insensitive while columns stay binary. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

const usernameCheck = Compile(Username)
const emailCheck = Compile(Email)

/** Whether a username is in its stored form and valid (e.g. a configured admin's). */
export function isValidUsername(username: string): boolean {
  return usernameCheck.Check(username)
}

export function isValidEmail(email: string): boolean {
  return emailCheck.Check(email)
}
