// Usernames and emails: what is accepted, and the one stored form (lowercase) that makes
// uniqueness case-insensitive while the columns stay binary-collated.

export const USERNAME_PATTERN = /^[a-z0-9_.-]{3,32}$/
export const EMAIL_MAX_LENGTH = 254

/** Usernames are compared and stored in lowercase; clients may type them in any case. */
export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase()
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

export function isValidUsername(username: string): boolean {
  return USERNAME_PATTERN.test(username)
}

/** A login name is an email when it has an @, which a username never has. */
export function isEmailLogin(login: string): boolean {
  return login.includes('@')
}

export const selfServiceRoles = ['student', 'tutor'] as const
export const allRoles = ['student', 'tutor', 'admin'] as const
export type Role = (typeof allRoles)[number]
