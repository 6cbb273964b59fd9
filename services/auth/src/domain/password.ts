// Password rules and hashing. Hashing is argon2id through Node's built-in crypto.argon2 (no
// native addon to build), in the PHC string form so the parameters travel with each hash and
// can be raised later: a login with an older, weaker hash rehashes it.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto'

export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 128

export interface Argon2Params {
  /** Memory in KiB; OWASP's minimum for argon2id is 19456 (19 MiB) with 2 passes. */
  memoryKib: number
  passes: number
  parallelism: number
}

export const OWASP_ARGON2: Argon2Params = { memoryKib: 19456, passes: 2, parallelism: 1 }

const SALT_BYTES = 16
const TAG_BYTES = 32

/** NFC, so the same password typed on two keyboards gives the same bytes. */
export function normalizePassword(password: string): string {
  return password.normalize('NFC')
}

/** Why a new password is refused, or undefined when it is acceptable. */
export function passwordProblem(
  password: string,
  account: { username?: string; email?: string } = {},
): string | undefined {
  const length = [...normalizePassword(password)].length
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`
  const lower = password.toLowerCase()
  if (lower === account.username?.toLowerCase() || lower === account.email?.toLowerCase()) {
    return 'must not be the username or the email'
  }
  return undefined
}

function derive(password: string, salt: Buffer, params: Argon2Params): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      'argon2id',
      {
        message: normalizePassword(password),
        nonce: salt,
        memory: params.memoryKib,
        passes: params.passes,
        parallelism: params.parallelism,
        tagLength: TAG_BYTES,
      },
      (err, key) => (err ? reject(err) : resolve(key)),
    )
  })
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')

export async function hashPassword(password: string, params: Argon2Params): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const hash = await derive(password, salt, params)
  return `$argon2id$v=19$m=${params.memoryKib},t=${params.passes},p=${params.parallelism}$${b64(salt)}$${b64(hash)}`
}

const phcPattern = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

interface ParsedHash {
  params: Argon2Params
  salt: Buffer
  hash: Buffer
}

export function parsePasswordHash(phc: string): ParsedHash | undefined {
  const m = phcPattern.exec(phc)
  if (!m) return undefined
  return {
    params: { memoryKib: Number(m[1]), passes: Number(m[2]), parallelism: Number(m[3]) },
    salt: Buffer.from(m[4] as string, 'base64'),
    hash: Buffer.from(m[5] as string, 'base64'),
  }
}

export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const parsed = parsePasswordHash(phc)
  if (!parsed) return false
  const candidate = await derive(password, parsed.salt, parsed.params)
  return candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash)
}

/** True when the stored hash is weaker than the current parameters. */
export function needsRehash(phc: string, params: Argon2Params): boolean {
  const parsed = parsePasswordHash(phc)
  if (!parsed) return true
  return (
    parsed.params.memoryKib < params.memoryKib ||
    parsed.params.passes < params.passes ||
    parsed.params.parallelism !== params.parallelism
  )
}

/**
 * Verifies against a real hash when the account exists, and against a dummy hash of the same
 * cost otherwise, so an unknown username costs the same time as a wrong password.
 */
export function createPasswordChecker(params: Argon2Params) {
  const dummy = hashPassword(randomBytes(16).toString('hex'), params)
  return {
    params,
    hash: (password: string) => hashPassword(password, params),
    async check(password: string, phc: string | undefined): Promise<boolean> {
      if (phc === undefined) {
        await verifyPassword(password, await dummy)
        return false
      }
      return verifyPassword(password, phc)
    },
    needsRehash: (phc: string) => needsRehash(phc, params),
  }
}

export type PasswordChecker = ReturnType<typeof createPasswordChecker>
