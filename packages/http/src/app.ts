// One way for every service to make its Fastify instance: the shared logger and request ids,
// the TypeBox type provider, strict validation, and the plugins of this package.
import { AjvCompiler, type RouteDefinition, type ValidatorFactory } from '@fastify/ajv-compiler'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { createLogger, type Logger, requestIdOptions } from '@tms/logging'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify'
import Type from 'typebox'
import { correlation } from './correlation.ts'
import { type HealthCheck, health } from './health.ts'
import { metrics } from './metrics.ts'
import { type OpenApiOptions, openApi } from './openapi.ts'
import { problemDetails, sendProblem } from './problem.ts'

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

export async function buildFastify(options: BuildOptions): Promise<App> {
  const logger =
    options.logger ?? createLogger({ service: options.service, level: options.logLevel })
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    requestIdHeader: requestIdOptions.requestIdHeader,
    genReqId: requestIdOptions.genReqId,
    logController: new LogController({
      requestIdLogLabel: requestIdOptions.requestIdLogLabel,
      // Probes and scrapes every few seconds would drown the log.
      disableRequestLogging: (request) => /^\/(health\/|metrics)/.test(request.url),
    }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
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
  await app.register(metrics, { service: options.service })
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
