import { type ConfigOf, env, serviceConfigSpec } from '@tms/config'

export const configSpec = {
  ...serviceConfigSpec({ port: 8003, database: 'academic' }),
  /** Where the auth service publishes its public signing keys. */
  jwksUrl: env.url('JWKS_URL', {
    protocols: ['http:', 'https:'],
    default: 'http://127.0.0.1:8001/auth/.well-known/jwks.json',
  }),
  /** The deployment's one currency; tutors' rates and sessions' prices are in it. */
  currency: env.currency('CURRENCY', { default: 'usd' }),
  /** The platform's share of a session's price, in basis points (100 = 1 %). */
  platformFeeBps: env.int('PLATFORM_FEE_BPS', { min: 0, max: 10_000, default: 0 }),
  /** A student's cancel closer than this to the start of an accepted session pays a charge. */
  cancellationNoticeHours: env.int('CANCELLATION_NOTICE_HOURS', { min: 0, max: 720, default: 24 }),
  /** That charge, in basis points of the price (5000 = half). */
  lateCancelFeeBps: env.int('LATE_CANCEL_FEE_BPS', { min: 0, max: 10_000, default: 5000 }),
  /** Documents go to S3 (MinIO) when set; to the local disk under DATA_DIR otherwise. */
  s3Endpoint: env.optional(env.url('S3_ENDPOINT', { protocols: ['http:', 'https:'] })),
  s3AccessKey: env.optional(env.string('S3_ACCESS_KEY')),
  s3SecretKey: env.optional(env.string('S3_SECRET_KEY')),
  s3Bucket: env.string('S3_BUCKET', { default: 'tms-documents' }),
  s3Region: env.string('S3_REGION', { default: 'us-east-1' }),
  /**
   * An upload that has not committed this long after it began writing to the store never
   * will: the document sweep deletes what it wrote (see README, "Storage").
   */
  documentSweepGraceMs: env.int('DOCUMENT_SWEEP_GRACE_MS', { min: 1000, default: 60 * 60 * 1000 }),
  /** How often the sweep runs (it also runs at start-up). */
  documentSweepEveryMs: env.int('DOCUMENT_SWEEP_EVERY_MS', { min: 1000, default: 10 * 60 * 1000 }),
}

export type AcademicConfig = ConfigOf<typeof configSpec>

/** Rules across variables, which the per-variable spec cannot say. */
export function configProblems(config: AcademicConfig): string[] {
  const problems: string[] = []
  if (config.s3Endpoint && !(config.s3AccessKey && config.s3SecretKey)) {
    problems.push('S3_ENDPOINT is set: set S3_ACCESS_KEY and S3_SECRET_KEY too')
  }
  // The sweep must never take an upload still in progress (one lasts at most the request).
  if (config.documentSweepGraceMs <= 2 * config.httpRequestTimeoutMs) {
    problems.push('DOCUMENT_SWEEP_GRACE_MS must be more than twice HTTP_REQUEST_TIMEOUT_MS')
  }
  return problems
}
