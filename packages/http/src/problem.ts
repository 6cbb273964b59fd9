// RFC 9457 problem details for every error a service answers, so clients handle one shape.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import Type from 'typebox'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface FieldError {
  field: string
  message: string
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  errors?: FieldError[]
}

/** The problem shape for OpenAPI response schemas. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
  },
  { description: 'RFC 9457 problem details' },
)

export interface ProblemOptions {
  /** A URI naming the kind of problem; `about:blank` means "as the status says". */
  type?: string
  errors?: FieldError[]
  /** Extra response headers, e.g. `WWW-Authenticate` on a 401. */
  headers?: Record<string, string>
  /**
   * The error behind a refusal that should not have happened (a bug that still must not be a
   * 500 to the client): the problem is logged at error level with it.
   */
  cause?: unknown
}

/** An error a route throws to answer with a problem of the given status. */
export class HttpProblem extends Error {
  readonly statusCode: number
  readonly type: string
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>
  constructor(status: number, detail: string, options: ProblemOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'HttpProblem'
    this.statusCode = status
    this.type = options.type ?? 'about:blank'
    this.errors = options.errors
    this.headers = options.headers ?? {}
  }
}

export function httpError(status: number, detail: string, options?: ProblemOptions): HttpProblem {
  return new HttpProblem(status, detail, options)
}

export function titleOf(status: number): string {
  return STATUS_CODES[status] ?? 'Error'
}

/** Where the project's own problem types live; a type names one kind of refusal. */
export const PROBLEM_TYPE_BASE = 'https://tms.example/problems/'

/** The `type` URI of one of the project's problems, e.g. `problemType('insufficient-funds')`. */
export function problemType(slug: string): string {
  return `${PROBLEM_TYPE_BASE}${slug}`
}

export function problemBody(
  status: number,
  detail: string,
  options: Pick<ProblemOptions, 'type' | 'errors'> = {},
): Problem {
  const body: Problem = {
    type: options.type ?? 'about:blank',
    title: titleOf(status),
    status,
    detail,
  }
  if (options.errors) body.errors = options.errors
  return body
}

/** Answers with a problem; `body` as made by problemBody (a stored answer, say). */
export function sendProblemBody(
  reply: FastifyReply,
  body: Problem,
  headers: Record<string, string> = {},
): FastifyReply {
  for (const [name, value] of Object.entries(headers)) reply.header(name, value)
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body)
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string,
  options: ProblemOptions = {},
): FastifyReply {
  return sendProblemBody(reply, problemBody(status, detail, options), options.headers)
}

interface AjvError {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
}

/** `/a/0/b` → `a[0].b`; the Ajv error's missing or unknown property completes the path. */
function fieldOf(error: AjvError, context: string | undefined): string {
  const segments = (error.instancePath ?? '').split('/').filter(Boolean)
  const extra = error.params?.missingProperty ?? error.params?.additionalProperty
  if (typeof extra === 'string') segments.push(extra)
  if (segments.length === 0) return context ?? 'body'
  return segments.reduce(
    (path, s) => (/^\d+$/.test(s) ? `${path}[${s}]` : path ? `${path}.${s}` : s),
    '',
  )
}

function messageOf(error: AjvError): string {
  if (error.keyword === 'required') return 'is required'
  if (error.keyword === 'additionalProperties') return 'is not an accepted field'
  return error.message ?? 'is invalid'
}

export function validationErrors(
  validation: readonly AjvError[],
  context: string | undefined,
): FieldError[] {
  return validation.map((e) => ({ field: fieldOf(e, context), message: messageOf(e) }))
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof HttpProblem) {
    if (error.statusCode >= 500 || error.cause !== undefined) {
      request.log.error({ err: error }, 'request failed')
    }
    return sendProblem(reply, error.statusCode, error.message, error)
  }
  if (error.validation) {
    const errors = validationErrors(error.validation as AjvError[], error.validationContext)
    const where = error.validationContext ?? 'request'
    return sendProblem(reply, 400, `the ${where} is not valid`, { errors })
  }
  const status = error.statusCode
  // Errors of Fastify itself and its plugins with a client status (bad JSON 400, body too
  // large 413, unsupported media type 415, rate limited 429) keep it; their message is safe.
  if (status !== undefined && status >= 400 && status < 500) {
    return sendProblem(reply, status, error.message)
  }
  request.log.error({ err: error }, 'request failed')
  return sendProblem(reply, 500, 'the server could not complete the request')
}

/** Problem responses of a route, for its schema's `response`: `{ ...problems(400, 409) }`. */
export function problems(...statuses: number[]): { [status: string]: typeof ProblemSchema } {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))
}

/**
 * Maps a service's own errors to problems in the scope of the plugin that calls it (a service's
 * routes): `map` returns the HttpProblem for an error it knows and the error itself otherwise.
 * What it returns is thrown on to the shared handler above, which answers it, so use-cases
 * throw typed errors and no HTTP error is thrown below the routes.
 */
export function mapErrors(app: FastifyInstance, map: (error: unknown) => unknown): void {
  app.setErrorHandler((error) => {
    throw map(error)
  })
}

/** Error and not-found handlers answering problem details; register before any route. */
export const problemDetails = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler(handleError)
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, 404, `no route for ${request.method} ${request.url.split('?')[0]}`),
    )
  },
  { name: '@tms/http/problem-details', fastify: '5.x' },
)
