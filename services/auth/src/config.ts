import { type ConfigOf, env, serviceConfigSpec } from '@tms/config'
import { type Argon2Params, OWASP_ARGON2 } from './domain/password.ts'
import { defaultHashConcurrency } from './hash-queue.ts'

export const configSpec = {
  ...serviceConfigSpec({ port: 8001, database: 'auth' }),
  /** PEM (PKCS#8) of the ES256 signing key, or a file holding it. */
  jwtPrivateKey: env.optional(env.string('JWT_PRIVATE_KEY')),
  jwtPrivateKeyFile: env.optional(env.string('JWT_PRIVATE_KEY_FILE')),
  /** During a key rotation: the previous public key (PEM), still published in the JWKS. */
  jwtPreviousPublicKey: env.optional(env.string('JWT_PREVIOUS_PUBLIC_KEY')),
  jwtPreviousPublicKeyFile: env.optional(env.string('JWT_PREVIOUS_PUBLIC_KEY_FILE')),
  accessTokenTtlSeconds: env.int('ACCESS_TOKEN_TTL_SECONDS', { min: 60, max: 3600, default: 900 }),
  refreshTokenTtlDays: env.int('REFRESH_TOKEN_TTL_DAYS', { min: 1, max: 365, default: 30 }),
  otpSecret: env.string('OTP_SECRET', {
    minLength: 32,
    devDefault: 'development-only-otp-secret-not-for-production',
  }),
  otpTtlSeconds: env.int('OTP_TTL_SECONDS', { min: 60, max: 3600, default: 600 }),
  /** A reset-code request answers no sooner than this, so its time does not tell a known
   * email from an unknown one. */
  otpRequestMinMs: env.int('OTP_REQUEST_MIN_MS', { min: 0, max: 5000, default: 100 }),
  argon2MemoryKib: env.int('ARGON2_MEMORY_KIB', { min: 8, default: OWASP_ARGON2.memoryKib }),
  argon2Passes: env.int('ARGON2_PASSES', { min: 1, max: 10, default: OWASP_ARGON2.passes }),
  rateLimitWindowMs: env.int('RATE_LIMIT_WINDOW_MS', { min: 1, default: 15 * 60 * 1000 }),
  rateLimitPerAccount: env.int('RATE_LIMIT_PER_ACCOUNT', { min: 1, default: 10 }),
  rateLimitPerAddress: env.int('RATE_LIMIT_PER_ADDRESS', { min: 1, default: 100 }),
  rateLimitSignupPerAddress: env.int('RATE_LIMIT_SIGNUP_PER_ADDRESS', { min: 1, default: 10 }),
  /** After the free failures, an account's next attempt waits this long, doubling each time. */
  loginDelayBaseMs: env.int('LOGIN_DELAY_BASE_MS', { min: 1, default: 1000 }),
  loginDelayMaxMs: env.int('LOGIN_DELAY_MAX_MS', { min: 1, default: 15 * 60 * 1000 }),
  /** Password hashes running at once, and waiting; beyond both, 503. */
  passwordHashConcurrency: env.int('PASSWORD_HASH_CONCURRENCY', {
    min: 1,
    default: defaultHashConcurrency(),
  }),
  passwordHashQueue: env.optional(env.int('PASSWORD_HASH_QUEUE', { min: 0 })),
  smtpUrl: env.optional(env.url('SMTP_URL', { protocols: ['smtp:', 'smtps:'] })),
  mailFrom: env.string('MAIL_FROM', { default: 'Tutor Management System <no-reply@localhost>' }),
  mailPollMs: env.int('MAIL_POLL_MS', { min: 10, default: 1000 }),
  adminUsername: env.optional(env.string('ADMIN_USERNAME')),
  adminEmail: env.optional(env.string('ADMIN_EMAIL')),
  adminPassword: env.optional(env.string('ADMIN_PASSWORD')),
}

export type AuthConfig = ConfigOf<typeof configSpec>

/** Rules across variables, which the per-variable spec cannot say. */
export function configProblems(config: AuthConfig): string[] {
  const problems: string[] = []
  const admin = [config.adminUsername, config.adminEmail, config.adminPassword]
  if (admin.some((v) => v !== undefined) && admin.some((v) => v === undefined)) {
    problems.push('ADMIN_USERNAME, ADMIN_EMAIL and ADMIN_PASSWORD must be set together, or none')
  }
  if (config.jwtPrivateKey && config.jwtPrivateKeyFile) {
    problems.push('set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE, not both')
  }
  if (
    config.nodeEnv === 'production' &&
    (config.argon2MemoryKib < OWASP_ARGON2.memoryKib || config.argon2Passes < OWASP_ARGON2.passes)
  ) {
    problems.push(
      `ARGON2_MEMORY_KIB must be at least ${OWASP_ARGON2.memoryKib} and ARGON2_PASSES at least ${OWASP_ARGON2.passes} in production`,
    )
  }
  return problems
}

/** The argon2 cost the configuration asks for. */
export function argon2Of(config: AuthConfig): Argon2Params {
  return { memoryKib: config.argon2MemoryKib, passes: config.argon2Passes, parallelism: 1 }
}

/** The first admin to make at start-up, when ADMIN_USERNAME/EMAIL/PASSWORD are set. */
export function firstAdminOf(config: AuthConfig) {
  const { adminUsername: username, adminEmail: email, adminPassword: password } = config
  return username && email && password ? { username, email, password } : undefined
}
