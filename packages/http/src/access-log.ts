// One access line per request, written when its answer has gone: method, route (the pattern,
// e.g. `/user/:user_id/debit`), url (the path, never the query string, which may hold a one-time
// code), status, ms and request_id. Fastify's own request logging writes two lines (incoming,
// completed), each through the redacting serializers; this controller replaces both. The line
// has flat fields and no secrets, so it is written by a child logger without redaction, which
// was half the cost of a line. Everything else Fastify logs (a failed stream, a serializer
// error) stays as Fastify logs it, through the request's logger.
import type { Logger } from '@tms/logging'
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

export interface AccessLogOptions {
  /** The label of the request id, on this line and on every line of the request's logger. */
  requestIdLogLabel: string
  /** Requests left out of the access log (health probes would drown it). */
  skip?: (request: FastifyRequest) => boolean
}

export class AccessLog extends LogController {
  readonly #lines: Logger
  readonly #label: string

  constructor(logger: Logger, options: AccessLogOptions) {
    super({
      requestIdLogLabel: options.requestIdLogLabel,
      disableRequestLogging: options.skip ?? false,
    })
    this.#lines = logger.child({}, { redact: { paths: [] } })
    this.#label = options.requestIdLogLabel
  }

  /** Nothing when a request arrives: its one line is written when it is answered. */
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return
    // A route's own log level (`logLevel: 'warn'`) silences its access lines too.
    if (!(request.log as Logger).isLevelEnabled(error ? 'error' : 'info')) return
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      url: pathOf(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    }
    // A failed answer (rare) goes through the request's logger, redaction and all.
    if (error) request.log.error({ ...line, err: error }, 'request errored')
    else this.#lines.info({ [this.#label]: request.id, ...line }, 'request completed')
  }
}

function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query < 0 ? url : url.slice(0, query)
}
