// pino, with the HTTP request id and the event correlation id on every line.
//
// HTTP: Fastify puts the request id (taken from `x-request-id`, made at the gateway) on its
// request logger as `request_id`. Events: the bus runs each handler inside `withCorrelation`,
// so every line logged while handling an event carries its `correlation_id`, and events the
// handler publishes inherit it.
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

interface CorrelationContext {
  correlationId: string
}

const correlation = new AsyncLocalStorage<CorrelationContext>()

/** Runs fn with a correlation id that every log line and published event inside it carries. */
export function withCorrelation<T>(correlationId: string, fn: () => T): T {
  return correlation.run({ correlationId }, fn)
}

export function currentCorrelationId(): string | undefined {
  return correlation.getStore()?.correlationId
}

/** Secrets and personal codes that must never reach a log line. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'password',
  'current_password',
  'new_password',
  'otp',
  'refresh_token',
  'access_token',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.otp',
  '*.refresh_token',
  '*.access_token',
]

export interface LoggerOptions {
  service: string
  level?: string
  /** Standard output (see standardOutput) unless given. */
  destination?: DestinationStream
}

let stdout: DestinationStream | undefined

/**
 * The process's standard output, shared by every logger of the process and written
 * asynchronously in batches: lines gather until 4 KiB or 100 ms have passed, then leave in one
 * write. pino's default, a synchronous write per line, was the largest single cost of a
 * request (see the user-wallet README's figures). A line therefore reaches the output within
 * 100 ms; pino writes what is left when the process exits (a crash included, not a SIGKILL).
 */
export function standardOutput(): DestinationStream {
  stdout ??= pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 })
  return stdout
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: '[redacted]' },
      mixin() {
        const ctx = correlation.getStore()
        return ctx ? { correlation_id: ctx.correlationId } : {}
      },
      serializers: {
        // The query string may hold a one-time code (GET /auth/verify?otp=...): log the path only.
        req: (req: { method: string; url: string; ip?: string }) => ({
          method: req.method,
          url: req.url.split('?')[0],
          remote_address: req.ip,
        }),
      },
    },
    options.destination ?? standardOutput(),
  )
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Fastify options that take the request id from `x-request-id` when it looks sane (the gateway
 * makes one), make a new one otherwise, and log it as `request_id`.
 */
export const requestIdOptions = {
  requestIdHeader: false as const,
  requestIdLogLabel: 'request_id',
  genReqId(req: IncomingMessage): string {
    const given = req.headers['x-request-id']
    return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID()
  },
}
