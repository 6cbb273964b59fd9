import { ConfigError, type ConfigOf, type Env, env, type Field } from '@tms/config'

/**
 * A comma-separated list of http(s) origins, e.g. several replicas of one service; `none` (the
 * notifications service's default until it exists) for a service that is not deployed.
 */
function originList(variable: string, fallback: string): Field<string[]> {
  return {
    variable,
    read(source: Env): string[] {
      const raw = source[variable] || fallback
      if (raw.trim() === 'none') return []
      return raw.split(',').map((part) => {
        let url: URL | undefined
        try {
          url = new URL(part.trim())
        } catch {}
        if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/') {
          throw new ConfigError(
            variable,
            'comma-separated http:// or https:// origins, or none',
            raw,
          )
        }
        return url.origin
      })
    },
  }
}

/** CORS origins: a comma-separated list, `*` (any origin, never with credentials), or empty. */
function corsOrigins(variable: string): Field<string[]> {
  return {
    variable,
    read(source: Env): string[] {
      const raw = source[variable] ?? ''
      return raw
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== '')
    },
  }
}

export const configSpec = {
  nodeEnv: env.oneOf('NODE_ENV', ['development', 'test', 'production'], {
    default: 'development',
  }),
  host: env.string('HOST', { default: '127.0.0.1' }),
  port: env.int('PORT', { min: 0, max: 65535, default: 8000 }),
  logLevel: env.oneOf('LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
    default: 'info',
  }),
  /** The operator's listener for /metrics: never the public port. */
  metricsHost: env.string('METRICS_HOST', { default: '127.0.0.1' }),
  metricsPort: env.int('METRICS_PORT', { min: 0, max: 65535, default: 9100 }),
  authUpstreams: originList('AUTH_UPSTREAMS', 'http://127.0.0.1:8001'),
  userUpstreams: originList('USER_UPSTREAMS', 'http://127.0.0.1:8002'),
  academicUpstreams: originList('ACADEMIC_UPSTREAMS', 'http://127.0.0.1:8003'),
  /** `none` until the notifications service exists; its routes answer 503 meanwhile. */
  notificationsUpstreams: originList('NOTIFICATIONS_UPSTREAMS', 'none'),
  jwksUrl: env.url('JWKS_URL', {
    protocols: ['http:', 'https:'],
    default: 'http://127.0.0.1:8001/auth/.well-known/jwks.json',
  }),
  jwtIssuer: env.string('JWT_ISSUER', { default: 'tms' }),
  /** The least time between two JWKS fetches caused by tokens with an unknown `kid`. */
  jwksMinRefetchMs: env.int('JWKS_MIN_REFETCH_MS', { min: 0, default: 30_000 }),
  /** Known keys are refetched in the background after this long (rotations, removals). */
  jwksMaxAgeMs: env.int('JWKS_MAX_AGE_MS', { min: 1000, default: 600_000 }),
  /** A service that has not sent its answer's headers by then gives a 504. */
  upstreamTimeoutMs: env.int('UPSTREAM_TIMEOUT_MS', { min: 100, default: 10_000 }),
  upstreamConnectTimeoutMs: env.int('UPSTREAM_CONNECT_TIMEOUT_MS', { min: 100, default: 2000 }),
  /** Kept-alive connections per replica, and requests pipelined on each. */
  upstreamConnections: env.int('UPSTREAM_CONNECTIONS', { min: 1, default: 64 }),
  upstreamPipelining: env.int('UPSTREAM_PIPELINING', { min: 1, max: 100, default: 1 }),
  /** A replica that refused a connection is skipped for this long. */
  upstreamDownMs: env.int('UPSTREAM_DOWN_MS', { min: 0, default: 5000 }),
  /** How often each replica's /health/ready is asked (0: never; passive marking only). */
  healthProbeMs: env.int('HEALTH_PROBE_MS', { min: 0, default: 5000 }),
  /** Requests per client address per window, everywhere but /auth. */
  rateLimitMax: env.int('RATE_LIMIT_MAX', { min: 1, default: 600 }),
  /** Requests per client address per window on /auth (login, signup, reset codes …). */
  rateLimitAuthMax: env.int('RATE_LIMIT_AUTH_MAX', { min: 1, default: 60 }),
  rateLimitWindowMs: env.int('RATE_LIMIT_WINDOW_MS', { min: 1000, default: 60_000 }),
  corsOrigins: corsOrigins('CORS_ORIGINS'),
  /** How long a merged /openapi.json is served before the services are asked again. */
  openapiTtlMs: env.int('OPENAPI_TTL_MS', { min: 0, default: 30_000 }),
  /** Time a client has to send a whole request (headers and body); headers alone: 30 s. */
  clientRequestTimeoutMs: env.int('CLIENT_REQUEST_TIMEOUT_MS', { min: 1000, default: 120_000 }),
  /** Proxies in front of the gateway (a load balancer), whose X-Forwarded-For is believed. */
  trustProxy: env.trustProxy('TRUST_PROXY', { default: false }),
}

export type GatewayConfig = ConfigOf<typeof configSpec>
