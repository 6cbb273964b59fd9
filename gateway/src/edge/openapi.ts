// One OpenAPI document for the whole API: each service's /openapi.json (asked again once the
// last answer is older than `ttlMs`, with If-None-Match when the service sent an ETag), cut to
// the operations the route table lets through, each path once, under one pair of security
// schemes (bearer, and the OAuth2 password flow to /auth/login for the docs' Authorize button),
// with the gateway's own routes added.
import { createHash } from 'node:crypto'
import type { Clock } from '@tms/clock'
import type { Logger } from '@tms/logging'
import {
  type Access,
  type Method,
  patternOfOpenApiPath,
  type RouteRule,
  routeTable,
  type Service,
  services,
} from './route-table.ts'
import type { Upstream } from './upstreams.ts'

type Json = Record<string, unknown>

export interface OpenApiMergeOptions {
  upstreams: Record<Service, Upstream>
  clock: Clock
  ttlMs: number
  /** The gateway's own document (its routes: root, health, docs). */
  own: () => Json
  logger: Logger
  timeoutMs?: number
}

interface Fetched {
  doc: Json
  etag: string | undefined
  hash: string
}

const methods = ['get', 'put', 'post', 'patch', 'delete'] as const
const schemaRef = '#/components/schemas/'

export const securitySchemes = {
  bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
  oauth2Password: {
    type: 'oauth2',
    flows: { password: { tokenUrl: '/auth/login', scopes: {} } },
  },
}
const bearer = [{ bearerAuth: [] }, { oauth2Password: [] }]

function securityOf(access: Access): Json[] {
  if (access === 'public') return []
  // `{}` first: the operation may also be called without a token.
  if (access === 'optional') return [{}, ...bearer]
  return bearer
}

function whoOf(access: Access): string {
  if (access === 'public') return 'anyone, no token'
  if (access === 'optional') return 'anyone; a token, when sent, must be valid'
  return `${access.join(', ')} (access token)`
}

/** Rewrites `$ref`s to renamed component schemas, everywhere in a value. */
function renameRefs(value: unknown, renamed: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => renameRefs(v, renamed))
  if (value && typeof value === 'object') {
    const out: Json = {}
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(schemaRef)) {
        const name = v.slice(schemaRef.length)
        out[k] = schemaRef + (renamed.get(name) ?? name)
      } else out[k] = renameRefs(v, renamed)
    }
    return out
  }
  return value
}

export class OpenApiMerger {
  private readonly options: OpenApiMergeOptions
  private readonly fetched = new Map<Service, Fetched>()
  private readonly rules = new Map<string, Partial<Record<Method, RouteRule>>>()
  private merged: Json | undefined
  private fetchedAt = Number.NEGATIVE_INFINITY
  private inFlight: Promise<void> | undefined

  constructor(options: OpenApiMergeOptions) {
    this.options = options
    for (const rule of routeTable) {
      const methodsOf = this.rules.get(rule.path) ?? {}
      methodsOf[rule.method] = rule
      this.rules.set(rule.path, methodsOf)
    }
  }

  /** The merged document, asking the services again when the last answer is too old. */
  async document(): Promise<Json> {
    const age = this.options.clock.now().getTime() - this.fetchedAt
    if (age >= this.options.ttlMs || !this.merged) {
      this.inFlight ??= this.refresh().finally(() => {
        this.inFlight = undefined
      })
      await this.inFlight
    }
    return this.current()
  }

  /** The last merged document, without asking anyone. */
  current(): Json {
    this.merged ??= this.merge()
    return this.merged
  }

  private async refresh(): Promise<void> {
    const changed = await Promise.all(services.map((s) => this.fetchOne(s)))
    this.fetchedAt = this.options.clock.now().getTime()
    if (changed.some(Boolean) || !this.merged) this.merged = this.merge()
  }

  /** True when the service's document changed (or went away). */
  private async fetchOne(service: Service): Promise<boolean> {
    const upstream = this.options.upstreams[service]
    if (!upstream.deployed) return false
    const known = this.fetched.get(service)
    const timeoutMs = this.options.timeoutMs ?? 2000
    try {
      const res = await upstream.request({
        origin: upstream.replicas[0]?.origin,
        method: 'GET',
        path: '/openapi.json',
        headers: known?.etag ? { 'if-none-match': known.etag } : {},
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      if (res.statusCode === 304 && known) {
        await res.body.dump()
        return false
      }
      if (res.statusCode !== 200) {
        await res.body.dump()
        throw new Error(`answered ${res.statusCode}`)
      }
      const text = await res.body.text()
      const hash = createHash('sha256').update(text).digest('hex')
      if (known?.hash === hash) return false
      const etag = res.headers.etag
      this.fetched.set(service, {
        doc: JSON.parse(text) as Json,
        etag: typeof etag === 'string' ? etag : undefined,
        hash,
      })
      return true
    } catch (err) {
      // A service that is down keeps its last document; one never reached is left out.
      this.options.logger.debug({ err, service }, 'openapi document not fetched')
      return false
    }
  }

  private merge(): Json {
    const paths: Record<string, Json> = {}
    const schemas: Json = {}
    const tags = new Map<string, Json>()

    const own = this.options.own()
    for (const [path, item] of Object.entries((own.paths ?? {}) as Record<string, Json>)) {
      if (services.some((s) => path === `/${s}` || path.startsWith(`/${s}/`))) continue
      paths[path] = item
    }
    for (const tag of (own.tags ?? []) as Json[]) tags.set(String(tag.name), tag)
    paths['/openapi.json'] = {
      get: {
        summary: "This document: every service's operations that the gateway lets through",
        tags: ['gateway'],
        responses: { 200: { description: 'OpenAPI 3.1' } },
      },
    }
    paths['/docs'] = {
      get: {
        summary: 'Interactive documentation of this document (Authorize logs in)',
        tags: ['gateway'],
        responses: { 200: { description: 'HTML' } },
      },
    }

    for (const service of services) {
      const fetched = this.fetched.get(service)
      if (!fetched) continue
      const components = (fetched.doc.components ?? {}) as Json
      const renamed = new Map<string, string>()
      for (const [name, schema] of Object.entries((components.schemas ?? {}) as Json)) {
        const clash = name in schemas && JSON.stringify(schemas[name]) !== JSON.stringify(schema)
        if (clash) renamed.set(name, `${service}_${name}`)
      }
      const doc = (renamed.size > 0 ? renameRefs(fetched.doc, renamed) : fetched.doc) as Json
      for (const [name, schema] of Object.entries(
        ((doc.components as Json | undefined)?.schemas ?? {}) as Json,
      )) {
        schemas[renamed.get(name) ?? name] = schema
      }
      for (const tag of (doc.tags ?? []) as Json[]) {
        if (!tags.has(String(tag.name))) tags.set(String(tag.name), tag)
      }
      for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
        const rules = this.rules.get(patternOfOpenApiPath(path))
        if (!rules) continue
        for (const method of methods) {
          const operation = item[method] as Json | undefined
          const rule = rules[method.toUpperCase() as Method]
          if (!operation || !rule) continue
          const target = paths[path] ?? {}
          paths[path] = target
          if (target[method]) {
            this.options.logger.warn(
              { path, method, service },
              'operation listed twice; kept first',
            )
            continue
          }
          const description = [operation.description, `**Gateway:** ${whoOf(rule.access)}.`]
            .filter(Boolean)
            .join('\n\n')
          target[method] = {
            ...operation,
            tags: operation.tags ?? [service],
            description,
            security: securityOf(rule.access),
          }
        }
        if (paths[path] && item.parameters) paths[path].parameters ??= item.parameters
      }
    }

    return {
      openapi: '3.1.0',
      info: {
        title: 'Tutor Management System',
        version: '1.0.0',
        description:
          'The whole API behind one gateway. Log in with **Authorize** (username or email and password): the token is sent with every call.',
      },
      paths,
      components: { securitySchemes, schemas },
      tags: [...tags.values()],
    }
  }
}
