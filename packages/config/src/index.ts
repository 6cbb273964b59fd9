// Reads and validates the environment at start-up. Each field names its variable, so a wrong or
// missing value stops the process with one line that says which variable and what it should be.

export type Env = Record<string, string | undefined>

export class ConfigError extends Error {
  readonly variable: string
  constructor(variable: string, expectation: string, raw: string | undefined) {
    const got = raw === undefined ? 'it is not set' : `got ${JSON.stringify(raw)}`
    super(`${variable} must be ${expectation} (${got})`)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

export interface Field<T> {
  readonly variable: string
  read(env: Env): T
}

interface FieldOptions<T> {
  /** Used when the variable is unset, in every environment. */
  default?: T
  /**
   * Used when the variable is unset outside production only: local defaults such as a
   * development secret. In production (NODE_ENV=production) the variable is then required.
   */
  devDefault?: T
}

function field<T>(
  variable: string,
  expectation: string,
  parse: (raw: string) => T | undefined,
  options: FieldOptions<T> = {},
): Field<T> {
  return {
    variable,
    read(env) {
      const raw = env[variable]
      if (raw === undefined || raw === '') {
        if (options.default !== undefined) return options.default
        if (options.devDefault !== undefined && env.NODE_ENV !== 'production') {
          return options.devDefault
        }
        const why =
          options.devDefault !== undefined ? `${expectation}, required in production` : expectation
        throw new ConfigError(variable, why, raw)
      }
      const value = parse(raw)
      if (value === undefined) throw new ConfigError(variable, expectation, raw)
      return value
    },
  }
}

function optional<T>(inner: Field<T>): Field<T | undefined> {
  return {
    variable: inner.variable,
    read: (env) => (env[inner.variable] ? inner.read(env) : undefined),
  }
}

export const env = {
  string(variable: string, options: FieldOptions<string> & { minLength?: number } = {}) {
    const min = options.minLength ?? 1
    return field(
      variable,
      `a string of at least ${min} characters`,
      (raw) => (raw.length >= min ? raw : undefined),
      options,
    )
  },
  int(variable: string, options: FieldOptions<number> & { min?: number; max?: number } = {}) {
    const min = options.min ?? Number.MIN_SAFE_INTEGER
    const max = options.max ?? Number.MAX_SAFE_INTEGER
    return field(
      variable,
      `a whole number from ${min} to ${max}`,
      (raw) => {
        if (!/^-?\d+$/.test(raw)) return undefined
        const n = Number(raw)
        return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined
      },
      options,
    )
  },
  /** A comma-separated list of whole numbers, e.g. retry delays in milliseconds. */
  intList(variable: string, options: FieldOptions<number[]> & { min?: number } = {}) {
    const min = options.min ?? 0
    return field(
      variable,
      `a comma-separated list of whole numbers of at least ${min}`,
      (raw) => {
        const parts = raw.split(',').map((p) => p.trim())
        if (!parts.every((p) => /^\d+$/.test(p))) return undefined
        const values = parts.map(Number)
        return values.every((v) => v >= min) ? values : undefined
      },
      options,
    )
  },
  bool(variable: string, options: FieldOptions<boolean> = {}) {
    return field(
      variable,
      'true or false',
      (raw) => (raw === 'true' ? true : raw === 'false' ? false : undefined),
      options,
    )
  },
  url(variable: string, options: FieldOptions<string> & { protocols: string[] }) {
    const list = options.protocols.map((p) => `${p}//`).join(' or ')
    return field(
      variable,
      `a URL starting with ${list}`,
      (raw) => {
        try {
          return options.protocols.includes(new URL(raw).protocol) ? raw : undefined
        } catch {
          return undefined
        }
      },
      options,
    )
  },
  /**
   * Which proxies' X-Forwarded-For to believe (Fastify's trustProxy): `true`, `false`, or
   * addresses and ranges such as `loopback` or `10.0.0.0/8,127.0.0.1`.
   */
  trustProxy(variable: string, options: FieldOptions<boolean | string> = {}) {
    return field<boolean | string>(
      variable,
      'true, false, or comma-separated addresses or ranges',
      (raw) => (raw === 'true' ? true : raw === 'false' ? false : raw),
      options,
    )
  },
  /** The deployment's one currency: a lowercase ISO 4217 code the runtime knows. */
  currency(variable: string, options: FieldOptions<string> = {}) {
    const codes = Intl.supportedValuesOf('currency').map((c) => c.toLowerCase())
    return field(
      variable,
      'a lowercase ISO 4217 currency code such as usd or eur',
      (raw) => (codes.includes(raw) ? raw : undefined),
      options,
    )
  },
  oneOf<const T extends string>(
    variable: string,
    values: readonly T[],
    options: FieldOptions<T> = {},
  ) {
    return field(
      variable,
      `one of ${values.join(', ')}`,
      (raw) => (values.includes(raw as T) ? (raw as T) : undefined),
      options,
    )
  },
  optional,
}

export type ConfigSpec = Record<string, Field<unknown>>
export type ConfigOf<S extends ConfigSpec> = {
  [K in keyof S]: S[K] extends Field<infer T> ? T : never
}

/** Reads every field; throws an AggregateError of ConfigErrors naming each bad variable. */
export function readConfig<S extends ConfigSpec>(spec: S, source: Env = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {}
  const errors: ConfigError[] = []
  for (const [key, f] of Object.entries(spec)) {
    try {
      out[key] = f.read(source)
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err)
      else throw err
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '))
  return out as ConfigOf<S>
}

/**
 * A configuration that is wrong in a way one variable's rule cannot see, found at start-up (two
 * variables that exclude each other, a key file that is not a key): the entry point stops with
 * `config error: <message>` and status 78, as for a bad variable.
 */
export class ConfigProblem extends Error {
  override name = 'ConfigProblem'
}

/** Prints `config error: <message>` per message to stderr and exits with status 78 (EX_CONFIG). */
export function exitWithConfigErrors(messages: string[]): never {
  for (const message of messages) process.stderr.write(`config error: ${message}\n`)
  process.exit(78)
}

/**
 * For a process entry point: on a bad environment, prints one line per wrong variable to
 * stderr and exits with status 78 (EX_CONFIG) instead of a stack trace.
 */
export function loadConfig<S extends ConfigSpec>(spec: S, source: Env = process.env): ConfigOf<S> {
  try {
    return readConfig(spec, source)
  } catch (err) {
    if (err instanceof AggregateError) {
      exitWithConfigErrors(err.errors.map((e) => (e as Error).message))
    }
    throw err
  }
}

/**
 * For a process entry point: a start-up step that cannot succeed (the database never answered,
 * say) stops the process with one line naming the reason, and status 1, not a stack trace.
 */
export function failStartup(err: unknown): never {
  const reason = err instanceof Error ? err.message : String(err)
  process.stderr.write(`startup error: ${reason.split('\n')[0]}\n`)
  process.exit(1)
}

/** The spec of the settings every service shares, and the configuration it reads. */
export type ServiceConfigSpec = ReturnType<typeof serviceConfigSpec>
export type ServiceConfig = ConfigOf<ServiceConfigSpec>

/** The settings every service shares; a service spreads these into its own spec. */
export function serviceConfigSpec(defaults: { port: number; database: string }) {
  return {
    nodeEnv: env.oneOf('NODE_ENV', ['development', 'test', 'production'], {
      default: 'development',
    }),
    host: env.string('HOST', { default: '127.0.0.1' }),
    port: env.int('PORT', { min: 0, max: 65535, default: defaults.port }),
    logLevel: env.oneOf(
      'LOG_LEVEL',
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      {
        default: 'info',
      },
    ),
    databaseUrl: env.url('DATABASE_URL', {
      protocols: ['mysql:'],
      devDefault: `mysql://root@127.0.0.1:3306/${defaults.database}`,
    }),
    /** How long start-up waits for an unreachable database before giving up. */
    dbConnectTimeoutMs: env.int('DB_CONNECT_TIMEOUT_MS', { min: 0, default: 60_000 }),
    amqpUrl: env.url('AMQP_URL', {
      protocols: ['amqp:', 'amqps:'],
      devDefault: 'amqp://guest:guest@127.0.0.1:5672',
    }),
    busPrefix: env.string('BUS_PREFIX', { default: 'tms.' }),
    /** One retry queue per delay; about 71 minutes in all, see docs/event-bus.md. */
    retryDelaysMs: env.intList('BUS_RETRY_DELAYS_MS', {
      min: 1,
      default: [1000, 10000, 60000, 600000, 3600000],
    }),
    dataDir: env.string('DATA_DIR', { default: '.data' }),
    /** `iss` of the access tokens the auth service signs; every service checks it. */
    jwtIssuer: env.string('JWT_ISSUER', { default: 'tms' }),
    /**
     * The proxies in front (the gateway), whose X-Forwarded-For gives the client address that
     * rate limits count by. `loopback` outside production; production must name the gateway's
     * addresses, since anything trusted can choose its own client address.
     */
    trustProxy: env.trustProxy('TRUST_PROXY', { devDefault: 'loopback' }),
    /** A request's headers and body must have arrived within this (see @tms/http). */
    httpRequestTimeoutMs: env.int('HTTP_REQUEST_TIMEOUT_MS', { min: 100, default: 30_000 }),
    httpHeadersTimeoutMs: env.int('HTTP_HEADERS_TIMEOUT_MS', { min: 100, default: 10_000 }),
    /** Where Prometheus scrapes /metrics: a listener of its own, never the public port. */
    metricsHost: env.string('METRICS_HOST', { default: '127.0.0.1' }),
    metricsPort: env.int('METRICS_PORT', { min: 0, max: 65535, default: defaults.port + 10_000 }),
  }
}
