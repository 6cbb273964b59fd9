// The proxied routes: one @fastify/http-proxy per service, registering exactly the route
// table's paths (paths unchanged), each guarded by the table's rule. Bodies stream through
// (never buffered whole) under a size cap; headers only the gateway may set are replaced; a
// service that is down or slow answers a 502/503/504 problem, never a hang.
import type { IncomingHttpHeaders } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'
import httpProxy from '@fastify/http-proxy'
import { httpError, sendProblem } from '@tms/http'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import {
  type BodyKind,
  type Method,
  type RouteRule,
  rulesByPattern,
  type Service,
  services,
} from './route-table.ts'
import type { Upstream } from './upstreams.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route table's rules of this route, by method. */
    edge?: Partial<Record<Method, RouteRule>>
    edgeService?: Service
    /** @fastify/helmet's per-route switch. */
    helmet?: { skipRoute?: boolean }
  }
  interface FastifyRequest {
    /** Set when the request's body went over its cap (the proxy's error then says 413). */
    bodyTooLarge: boolean
  }
}

const MiB = 1024 * 1024

export interface BodyLimits {
  json: number
  upload: number
}

export const defaultBodyLimits: BodyLimits = {
  json: 1 * MiB,
  // 5 files of 10 MiB each, and the form's fields and part headers.
  upload: 5 * 10 * MiB + 1 * MiB,
}

export interface ProxyOptions {
  upstreams: Record<Service, Upstream>
  bodyLimits?: BodyLimits
  /** Set on every proxied answer (see security-headers.ts). */
  securityHeaders?: Record<string, string>
  /** Told of every answer the gateway made itself because a service failed. */
  onUpstreamError?: (service: Service, status: number, code: string) => void
}

/**
 * Headers a client may not choose: the gateway sets the forwarding ones from what it saw, and
 * identity-like ones are dropped (identity travels only as the token, which services verify).
 */
const gatewayOnlyHeader =
  /^(?:x-forwarded-|forwarded$|x-real-ip$|x-client-ip$|true-client-ip$|cf-connecting-ip$|x-original-|x-user|x-role|x-auth|x-remote-user$|remote-user$|x-identity|x-consumer-|x-jwt|x-scope|x-tenant|x-internal|x-gateway|x-verified|x-ssl-|x-client-)/

function rewriteRequestHeaders(
  request: Pick<FastifyRequest, 'ip' | 'protocol' | 'host' | 'id'>,
  headers: IncomingHttpHeaders,
) {
  for (const name in headers) {
    if (gatewayOnlyHeader.test(name)) delete headers[name]
  }
  headers['x-forwarded-for'] = request.ip
  headers['x-forwarded-proto'] = request.protocol
  headers['x-forwarded-host'] = request.host
  headers['x-request-id'] = request.id
  return headers
}

/** Passes a body on, counting its bytes, and fails it past the cap. */
class ByteCap extends Transform {
  private seen = 0
  private readonly cap: number
  private readonly request: FastifyRequest
  constructor(cap: number, request: FastifyRequest) {
    super()
    this.cap = cap
    this.request = request
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.seen += chunk.length
    if (this.seen > this.cap) {
      this.request.bodyTooLarge = true
      callback(tooLarge(this.cap))
      return
    }
    callback(null, chunk)
  }
}

function tooLarge(cap: number) {
  // Closing the connection spares reading the rest of a body nobody wants.
  return httpError(413, `the body is larger than ${cap} bytes`, {
    headers: { connection: 'close' },
  })
}

const connectFailures = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
])
const timeouts = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
])

function errorCode(error: unknown): string {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (connectFailures.has(code) || timeouts.has(code))) return code
  }
  return (error as { code?: string })?.code ?? 'unknown'
}

export async function edgeProxy(app: FastifyInstance, options: ProxyOptions) {
  const limits = options.bodyLimits ?? defaultBodyLimits
  const capOf = (kind: BodyKind | undefined) => limits[kind ?? 'json']

  app.decorateRequest('bodyTooLarge', false)

  // Every body streams to the service as it arrives, whatever its type; the service parses it.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (request, payload, done) => {
    const cap = capOf(ruleOf(request)?.body)
    if (Number(request.headers['content-length']) > cap) {
      request.bodyTooLarge = true
      done(tooLarge(cap), undefined)
      return
    }
    // undici destroys the body it was given when the service fails; given the client's own
    // request it would reset the client's connection instead of letting it have the problem.
    // A chunked body (no Content-Length) is also counted on its way.
    const body = new ByteCap(cap, request)
    payload.on('error', (err) => body.destroy(err))
    done(null, payload.pipe(body))
  })

  // The table decides, before the body is read: an unknown route or method is 404, a missing
  // or bad token 401, a role that may never call it 403.
  const headers = options.securityHeaders ?? {}
  const checkRoute: onRequestHookHandler = async function checkRoute(request, reply) {
    reply.headers(headers)
    const rule = ruleOf(request)
    if (!rule) {
      throw httpError(404, `no route for ${request.method} ${request.url.split('?')[0]}`)
    }
    await app.checkAccess(request, rule.access)
  }
  // At the usual level each proxied request logs one line when answered, with its request id.
  const quiet = app.log.level === 'info'
  if (quiet) {
    app.addHook('onResponse', (request, reply, done) => {
      // Flat fields: the logger's redaction has nothing nested to walk.
      app.log.info(
        {
          request_id: request.id,
          method: request.method,
          url: request.url.split('?', 1)[0],
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          remote_address: request.ip,
        },
        'request completed',
      )
      done()
    })
  }
  const patterns = new Map<string, Partial<Record<Method, RouteRule>>>()
  app.addHook('onRoute', (route) => {
    const service = route.config?.edgeService
    if (!service) return
    const pattern = route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url
    // helmet's headers come precomputed (checkRoute), not rebuilt per request.
    route.config = {
      ...route.config,
      edge: patterns.get(pattern) ?? {},
      helmet: { skipRoute: true },
    }
    // One log line per request (see below) instead of Fastify's two; warnings still show.
    if (quiet) route.logLevel = 'warn'
    const hooks = Array.isArray(route.onRequest)
      ? route.onRequest
      : route.onRequest
        ? [route.onRequest]
        : []
    if (!hooks.includes(checkRoute)) route.onRequest = [...hooks, checkRoute]
  })

  for (const service of services) {
    const upstream = options.upstreams[service]
    const byPattern = rulesByPattern(service)
    for (const [pattern, rules] of byPattern) patterns.set(pattern, rules)
    const prefix = `/${service}`
    // reply-from types the reply for HTTP/2 servers too; this gateway serves HTTP/1.1 only.
    const onError = (anyReply: unknown, { error }: { error: Error }) => {
      const reply = anyReply as FastifyReply
      // The client may still be sending a body nobody will read.
      if (!reply.request.raw.complete) reply.header('connection', 'close')
      if (reply.request.bodyTooLarge) {
        sendProblem(reply, 413, error.message, { headers: { connection: 'close' } })
        return
      }
      const code = errorCode(error)
      const [status, detail] = connectFailures.has(code)
        ? [503, `the ${service} service is unavailable; try again shortly`]
        : timeouts.has(code)
          ? [504, `the ${service} service did not answer in time`]
          : [502, `the ${service} service gave no valid answer`]
      reply.request.log.warn({ err: error, service, code }, 'upstream request failed')
      options.onUpstreamError?.(service, status, code)
      sendProblem(reply, status, detail, status === 503 ? { headers: { 'retry-after': '1' } } : {})
    }
    await app.register(httpProxy, {
      upstream: upstream.replicas[0]?.origin ?? '',
      prefix,
      rewritePrefix: prefix,
      routes: [...byPattern.keys()].map((p) => p.slice(prefix.length) || '/'),
      httpMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      proxyPayloads: false,
      undici: upstream,
      disableRequestLogging: true,
      config: { edgeService: service },
      replyOptions: {
        rewriteRequestHeaders,
        onError,
        // A replica that refused the connection is marked down before this runs, so one
        // retry of a body-less request reaches another replica.
        retryDelay: ({ err, req, attempt }) =>
          attempt === 0 &&
          upstream.replicas.length > 1 &&
          (req.method === 'GET' || req.method === 'HEAD') &&
          connectFailures.has(errorCode(err))
            ? 1
            : null,
      },
      handler: (request, reply, dest, replyOptions) =>
        // Server-Sent Events: no body timeout (the service sends heartbeats).
        reply.from(dest, ruleOf(request)?.stream ? { ...replyOptions, timeout: 0 } : replyOptions),
    })
  }
}

function ruleOf(request: FastifyRequest): RouteRule | undefined {
  const rules = request.routeOptions.config.edge
  const method = request.method === 'HEAD' ? 'GET' : (request.method as Method)
  return rules?.[method]
}
