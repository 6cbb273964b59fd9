// Sends one request on to a service and its answer back, through @fastify/http-proxy's
// `handler` hook in place of @fastify/reply-from. Profiling showed reply-from's path costing
// about a third of the gateway's CPU for a small JSON read: undici's request API (an
// AsyncResource and a body stream per request), header copies, a JSON cache key and a stream
// piped into the reply even for 300 bytes. Here an undici dispatch handler gets the answer
// directly: a small answer (known length ≤ 64 KiB) is sent as one buffer, anything larger or
// of unknown length streams through with backpressure, never buffered whole.
import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Upstream } from './upstreams.ts'

/** Answers up to this size (by Content-Length) are collected and sent in one write. */
const SMALL_BODY = 64 * 1024

/** Headers of one hop only (RFC 9110 §7.6.1), never passed on in either direction. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
])

/**
 * Headers a client may not choose: the gateway sets the forwarding ones from what it saw, and
 * identity-like ones are dropped (identity travels only as the token, which services verify).
 */
const gatewayOnlyHeader =
  /^(?:x-forwarded-|forwarded$|x-real-ip$|x-client-ip$|true-client-ip$|cf-connecting-ip$|x-original-|x-user|x-role|x-auth|x-remote-user$|remote-user$|x-identity|x-consumer-|x-jwt|x-scope|x-tenant|x-internal|x-gateway|x-verified|x-ssl-|x-client-)/

/** The headers the service gets: the client's, minus hop-by-hop and gateway-only ones. */
export function upstreamHeaders(request: FastifyRequest): Record<string, string> {
  const incoming = request.headers
  const listed = incoming.connection
    ? new Set(
        incoming.connection
          .toLowerCase()
          .split(',')
          .map((h) => h.trim()),
      )
    : undefined
  const out: Record<string, string> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || hopByHop.has(name) || gatewayOnlyHeader.test(name)) continue
    if (listed?.has(name)) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  out['x-forwarded-for'] = request.ip
  out['x-forwarded-proto'] = request.protocol
  out['x-forwarded-host'] = request.host
  out['x-request-id'] = request.id
  return out
}

export interface ForwardOptions {
  upstream: Upstream
  /** Path and query as the service sees them (unchanged from the client's). */
  path: string
  /** 0: no body timeout (Server-Sent Events). */
  bodyTimeoutMs?: number
  /** One more try on another replica, for requests without a body, when a replica refused. */
  retryOnConnectFailure: boolean
  /** Answers the failure (a 502/503/504 problem) when no answer came from the service. */
  onFailure(reply: FastifyReply, error: Error): void
}

/** Error codes of a connection that never came up: the service is down (503). */
export const connectFailureCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
])

export function isConnectFailure(error: unknown): boolean {
  return connectFailureCodes.has((error as { code?: string })?.code ?? '')
}

/** A body stream the service's answer is pushed into; reading it resumes the service. */
class AnswerBody extends Readable {
  resumeUpstream: (() => void) | undefined
  override _read() {
    this.resumeUpstream?.()
  }
}

export function forward(request: FastifyRequest, reply: FastifyReply, options: ForwardOptions) {
  const method = request.method
  const body = method === 'GET' || method === 'HEAD' ? null : ((request.body as Readable) ?? null)
  const dispatchOptions: Dispatcher.DispatchOptions = {
    path: options.path,
    method: method as Dispatcher.HttpMethod,
    headers: upstreamHeaders(request),
    body,
  }
  if (options.bodyTimeoutMs !== undefined) dispatchOptions.bodyTimeout = options.bodyTimeoutMs
  let retried = false

  const send = () => {
    let abort: ((err?: Error) => void) | undefined
    let answered = false
    let small: Buffer[] | undefined
    let stream: AnswerBody | undefined
    const upstreamHeaderNames: string[] = []

    const onClientGone = () => {
      if (!reply.raw.writableFinished) abort?.()
    }

    const handler: Dispatcher.DispatchHandler = {
      onConnect(abortRequest) {
        abort = abortRequest
        reply.raw.once('close', onClientGone)
      },
      onHeaders(statusCode, rawHeaders, resume) {
        answered = true
        const headers: IncomingHttpHeaders = {}
        let length: number | undefined
        for (let i = 0; i < rawHeaders.length; i += 2) {
          const name = (rawHeaders[i] as Buffer).toString('latin1').toLowerCase()
          if (hopByHop.has(name)) continue
          const value = (rawHeaders[i + 1] as Buffer).toString('latin1')
          if (name === 'content-length') length = Number(value)
          const seen = headers[name]
          if (seen === undefined) headers[name] = value
          else if (Array.isArray(seen)) seen.push(value)
          else headers[name] = name === 'set-cookie' ? [seen, value] : `${seen}, ${value}`
        }
        reply.code(statusCode)
        for (const name in headers) {
          reply.header(name, headers[name])
          upstreamHeaderNames.push(name)
        }
        if (method === 'HEAD' || statusCode === 204 || statusCode === 304) {
          small = []
          return true
        }
        if (length !== undefined && length <= SMALL_BODY) {
          reply.removeHeader('content-length')
          small = []
          return true
        }
        stream = new AnswerBody()
        stream.resumeUpstream = resume
        reply.send(stream)
        return true
      },
      onData(chunk) {
        if (small) {
          small.push(chunk)
          return true
        }
        return stream?.push(chunk) ?? true
      },
      onComplete() {
        reply.raw.off('close', onClientGone)
        if (small) reply.send(small.length === 1 ? small[0] : Buffer.concat(small))
        else stream?.push(null)
      },
      onError(error) {
        reply.raw.off('close', onClientGone)
        if (stream) {
          // The answer is on its way and cannot become a problem any more: cut it off.
          stream.destroy(error)
          return
        }
        if (answered) {
          // A small answer broke off before its end: nothing was sent, so a problem can be.
          for (const name of upstreamHeaderNames) reply.removeHeader(name)
        }
        if (options.retryOnConnectFailure && !retried && !body && isConnectFailure(error)) {
          retried = true
          send()
          return
        }
        options.onFailure(reply, error)
      },
    }
    options.upstream.dispatch(dispatchOptions, handler)
  }
  send()
  return reply
}
