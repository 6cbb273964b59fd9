// One way for every service to make its Fastify instance: the shared logger and request ids,
// the TypeBox type provider, strict validation, and the plugins of this package.
import type { Duplex } from 'node:stream'
import { AjvCompiler, type RouteDefinition, type ValidatorFactory } from '@fastify/ajv-compiler'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { createLogger, type Logger, requestIdOptions } from '@tms/logging'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify'
import Type from 'typebox'
import { AccessLog } from './access-log.ts'
import { correlation } from './correlation.ts'
import { type HealthCheck, health } from './health.ts'
import { metrics } from './metrics.ts'
import { type OpenApiOptions, openApi } from './openapi.ts'
import { PROBLEM_CONTENT_TYPE, problemDetails, sendProblem, titleOf } from './problem.ts'

/** The Fastify instance every service builds on, typed by its TypeBox route schemas. */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

export interface BuildOptions {
  service: string
  /** The process logger; a fresh one at `logLevel` when absent. */
  logger?: Logger
  logLevel?: string
  /** Largest accepted request body in bytes (413 beyond). */
  bodyLimit?: number
  /** Readiness checks by name, e.g. `{ database, broker }`. */
  healthChecks?: Record<string, HealthCheck>
  /** A readiness check not answered by then counts as down (default 2 s). */
  healthTimeoutMs?: number
  openapi?: Omit<OpenApiOptions, 'title'> & { title?: string }
  /** Trust X-Forwarded-For from the gateway for the client address (rate limits). */
  trustProxy?: boolean | string | string[]
  /**
   * A request's headers and body must have arrived within this many milliseconds of its first
   * byte (default 30 s), else the connection is closed (with a 408 when nothing was answered
   * yet): a client that sends part of a body and goes silent holds nothing for long.
   */
  requestTimeoutMs?: number
  /** The headers alone must have arrived by then (default 10 s, at most requestTimeoutMs). */
  headersTimeoutMs?: number
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000

/** Node's server options for the timeouts; `connectionsCheckingInterval` makes them precise. */
export function timeoutOptions(options: { requestTimeoutMs?: number; headersTimeoutMs?: number }) {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const headersTimeout = Math.min(
    options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    requestTimeout,
  )
  // Node looks for expired requests every 30 s by default, which would let a timeout run
  // that much late; a tenth of the shorter timeout (at most a second) keeps it close.
  const connectionsCheckingInterval = Math.max(10, Math.min(1000, Math.floor(headersTimeout / 10)))
  return { requestTimeout, headersTimeout, connectionsCheckingInterval }
}

export const ajvOptions = {
  // Unknown fields are refused (with `additionalProperties: false`), never silently dropped:
  // nobody sets `role` or `balance` by sneaking a field in, and the client learns of its typo.
  removeAdditional: false,
  useDefaults: true,
  // Query strings, path parameters and headers arrive as text; see bodyValidation below.
  coerceTypes: 'array',
  allErrors: false,
} as const

/**
 * Fastify's Ajv takes one set of options for every part of a request; a JSON body, though,
 * carries its own types, and converting them would take `"amount": true` as 1 or `"1e2"` as
 * 100. So bodies are checked by a second Ajv that converts nothing.
 */
const bodyStrictValidators: ValidatorFactory = (externalSchemas) => {
  const build = AjvCompiler()
  const coercing = build(externalSchemas, { customOptions: ajvOptions })
  const strict = build(externalSchemas, { customOptions: { ...ajvOptions, coerceTypes: false } })
  return (route: RouteDefinition) => (route.httpPart === 'body' ? strict : coercing)(route)
}

/**
 * Checks a value against a route schema exactly as a route's validation does (the same Ajv,
 * options and per-part conversions): for tests that compare what a route accepts with
 * another rule, such as an event contract.
 */
export function routeSchemaCheck(
  schema: object,
  httpPart: 'body' | 'querystring' | 'params' | 'headers',
): (value: unknown) => boolean {
  const validate = bodyStrictValidators({})({ schema, httpPart, method: 'POST', url: '/' })
  return (value) => validate(value) === true
}

/**
 * Errors Node finds before a request reaches Fastify (a timeout, malformed or oversized
 * headers) answer in problem details too, then the connection closes.
 */
function clientErrorHandler(error: Error & { code?: string }, socket: Duplex) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const status =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 408
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : 400
  const detail =
    status === 408
      ? 'the request did not arrive in time'
      : status === 431
        ? 'the request headers are too large'
        : 'the request is malformed'
  const body = JSON.stringify({ type: 'about:blank', title: titleOf(status), status, detail })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${titleOf(status)}\r\nConnection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

export async function buildFastify(options: BuildOptions): Promise<App> {
  const logger =
    options.logger ?? createLogger({ service: options.service, level: options.logLevel })
  const timeouts = timeoutOptions(options)
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    requestIdHeader: requestIdOptions.requestIdHeader,
    genReqId: requestIdOptions.genReqId,
    logController: new AccessLog(logger, {
      requestIdLogLabel: requestIdOptions.requestIdLogLabel,
      // Probes every few seconds would drown the log.
      skip: (request) => request.url.startsWith('/health/'),
    }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    requestTimeout: timeouts.requestTimeout,
    http: timeouts,
    clientErrorHandler,
    schemaController: { compilersFactory: { buildValidator: bodyStrictValidators } },
    // Errors of the router itself (a malformed percent-encoding, a path parameter over
    // maxParamLength) would otherwise answer in Fastify's own JSON shape.
    frameworkErrors: (error, _request, reply) =>
      sendProblem(reply, error.statusCode ?? 400, error.message),
  }).withTypeProvider<TypeBoxTypeProvider>()

  // JSON only (and what a service adds, e.g. forms): a text/plain body is a 415, not a 400.
  app.removeContentTypeParser('text/plain')
  await app.register(correlation)
  await app.register(problemDetails)
  await app.register(openApi, {
    title: options.openapi?.title ?? options.service,
    ...options.openapi,
  })
  await app.register(health, {
    checks: options.healthChecks,
    timeoutMs: options.healthTimeoutMs,
  })
  // Collected here, served only on a listener of its own (app.listenMetrics), never on the
  // public port: /metrics there is a 404 like any unknown path.
  await app.register(metrics, { service: options.service, timeouts })
  // The SPEC's root check, the same on every service.
  app.get(
    '/',
    {
      schema: {
        summary: 'Root check',
        tags: ['health'],
        response: { 200: Type.Object({ status: Type.Literal('ok'), service: Type.String() }) },
      },
    },
    async () => ({ status: 'ok' as const, service: options.service }),
  )
  return app
}
