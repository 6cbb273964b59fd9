// The auth service as main.ts starts it (startTestService): its own database and broker prefix,
// its bus started, a TestClock, cheap argon2 (the defaults are OWASP's; tests only need it to
// work) and a signing key made once per test process.
import { generateKeyPairSync } from 'node:crypto'
import type { App } from '@tms/http'
import { startTestService, type TestServiceOptions } from '@tms/kit/testing'
import type { TestClock, TestContext } from '@tms/testing'
import type { AppDeps } from '../src/app.ts'
import type { AuthConfig } from '../src/config.ts'
import type { AuthDatabase } from '../src/db/schema.ts'
import { signingKeysFromPem } from '../src/keys.ts'
import { auth } from '../src/main.ts'

const privateKeyPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
  format: 'pem',
  type: 'pkcs8',
}) as string

export const cheapArgon2 = { memoryKib: 64, passes: 1, parallelism: 1 }

export const testConfig = {
  jwtIssuer: 'tms-test-auth',
  jwtPrivateKey: privateKeyPem,
  otpSecret: 'a-test-otp-secret-of-at-least-32-characters',
  otpRequestMinMs: 0,
  argon2MemoryKib: cheapArgon2.memoryKib,
  argon2Passes: cheapArgon2.passes,
  rateLimitWindowMs: 60_000,
  rateLimitPerAccount: 1000,
  rateLimitPerAddress: 1000,
  rateLimitSignupPerAddress: 1000,
} satisfies Partial<AuthConfig>

/** What a test may change besides the configuration (see startTestService). */
export type SetupOptions = Omit<
  TestServiceOptions<AuthConfig, AuthDatabase, Partial<AppDeps>, TestClock>,
  'config' | 'clock'
>

export async function setup(
  t: TestContext,
  config: Partial<AuthConfig> = {},
  options: SetupOptions = {},
) {
  const service = await startTestService(t, auth, {
    ...options,
    config: { ...testConfig, ...config },
  })
  return { ...service, keys: await signingKeysFromPem(privateKeyPem) }
}

export type AuthHarness = Awaited<ReturnType<typeof setup>>

let counter = 0
export function newAccount(overrides: Record<string, unknown> = {}) {
  counter++
  return {
    username: `user_${process.pid}_${counter}`,
    email: `user${counter}.${process.pid}@example.com`,
    password: 'correct horse battery',
    role: 'student',
    ...overrides,
  }
}

export async function signup(app: App, overrides: Record<string, unknown> = {}) {
  const account = newAccount(overrides)
  const res = await app.inject({ method: 'POST', url: '/auth/signup', payload: account })
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`)
  return { ...account, id: res.json().id as string }
}

export interface Tokens {
  access_token: string
  refresh_token: string
  token_type: string
  expires_in: number
}

export async function login(app: App, username: string, password: string): Promise<Tokens> {
  const res = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username, password },
  })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The events in the outbox, oldest first. */
export { outboxEvents } from '@tms/kit/testing'
