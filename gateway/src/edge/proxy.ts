// The proxied routes: one @fastify/http-proxy per service, registering exactly the route
// table's paths (paths unchanged), each guarded by the table's rule. Bodies stream through
// (never buffered whole) under a size cap; headers only the gateway may set are replaced; a
// service that is down or slow answers a 502/503/504 problem, never a hang.
import { Transform, type TransformCallback } from 'node:stream'
import httpProxy from '@fastify/http-proxy'
import { httpError, sendProblem } from '@tms/http'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { connectFailureCodes, forward } from './forward.ts'
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
  /** Told of every answer the gateway made itself because a service failed. */
  onUpstreamError?: (service: Service, status: number, code: string) => void
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

const timeouts = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function errorCode(error: unknown): string {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (connectFailureCodes.has(code) || timeouts.has(code)))
      return code
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
  const checkRoute: onRequestHookHandler = function checkRoute(request, _reply, done) {
    const rule = ruleOf(request)
    if (!rule) {
      done(httpError(404, `no route for ${request.method} ${request.url.split('?')[0]}`))
      return
    }
    let checked: ReturnType<typeof app.checkAccess>
    try {
      checked = app.checkAccess(request, rule.access)
    } catch (err) {
      done(err as Error)
      return
    }
    if (checked instanceof Promise) checked.then(() => done(), done)
    else done()
  }
  // At the usual level each proxied request logs one line when answered, with its request id.
  const quiet = app.log.level === 'info'
  if (quiet) {
    // Flat fields of no secret: redaction (half the cost of a line) has nothing to do here.
    const accessLog = app.log.child({}, { redact: { paths: [] } })
    app.addHook('onResponse', (request, reply, done) => {
      accessLog.info(
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
    route.config = { ...route.config, edge: patterns.get(pattern) ?? {} }
    // One log line per request (the onResponse hook above) instead of Fastify's two; warnings
    // still show.
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
    const onFailure = (reply: FastifyReply, error: Error) => {
      // The client may still be sending a body nobody will read.
      if (!reply.request.raw.complete) reply.header('connection', 'close')
      if (reply.request.bodyTooLarge) {
        sendProblem(reply, 413, error.message, { headers: { connection: 'close' } })
        return
      }
      const code = errorCode(error)
      const [status, detail] = connectFailureCodes.has(code)
        ? [503, `the ${service} service is unavailable; try again shortly`]
        : timeouts.has(code)
          ? [504, `the ${service} service did not answer in time`]
          : [502, `the ${service} service gave no valid answer`]
      reply.request.log.warn({ err: error, service, code }, 'upstream request failed')
      options.onUpstreamError?.(service, status, code)
      sendProblem(reply, status, detail, status === 503 ? { headers: { 'retry-after': '1' } } : {})
    }
    await app.register(httpProxy, {
      // Never dialled (forward.ts dispatches); a service not deployed answers 503 below.
      upstream: upstream.replicas[0]?.origin ?? 'http://not-deployed.invalid',
      prefix,
      rewritePrefix: prefix,
      routes: [...byPattern.keys()].map((p) => p.slice(prefix.length) || '/'),
      httpMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      proxyPayloads: false,
      // reply-from is registered by http-proxy but not used (see forward.ts); given the
      // upstream, it makes no connection pool of its own.
      undici: upstream,
      disableRequestLogging: true,
      config: { edgeService: service },
      handler: (request, reply, dest) => {
        if (!upstream.deployed) {
          sendProblem(reply, 503, `the ${service} service is not deployed here`)
          return
        }
        const query = request.url.indexOf('?')
        return forward(request, reply, {
          upstream,
          path: query < 0 ? dest : dest + request.url.slice(query),
          // Server-Sent Events: no body timeout (the service sends heartbeats).
          bodyTimeoutMs: ruleOf(request)?.stream ? 0 : undefined,
          retryOnConnectFailure: upstream.replicas.length > 1,
          onFailure,
        })
      },
    })
  }
}

function ruleOf(request: FastifyRequest): RouteRule | undefined {
  const rules = request.routeOptions.config.edge
  const method = request.method === 'HEAD' ? 'GET' : (request.method as Method)
  return rules?.[method]
}
