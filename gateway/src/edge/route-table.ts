// Every route the gateway lets through, with who may call it: the SPEC's endpoint tables and
// its role table, coarse. A route not listed here is 404 at the edge, so nothing internal of a
// service (/metrics, /health/*, /openapi.json) is reachable by accident. Ownership ("own
// sessions", "self or admin") stays in the services, which verify the token again.

import type { Role } from '@tms/contracts'

export type { Role }
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/**
 * - `public`: no token needed and none checked (the service checks one if it cares).
 * - `optional`: anonymous callers pass; a token, when sent, must be valid (anonymous browse).
 * - a list of roles: a valid access token of one of them.
 */
export type Access = 'public' | 'optional' | readonly Role[]

/** How large a body may be: `json` 1 MiB, `upload` 5 files × 10 MiB plus the form fields. */
export type BodyKind = 'json' | 'upload'

export interface RouteRule {
  method: Method
  /** Fastify route syntax: `:name` is one path segment. */
  path: string
  access: Access
  body?: BodyKind
  /** A long-lived answer (Server-Sent Events): no body timeout. */
  stream?: boolean
}

const anyone = ['student', 'tutor', 'admin'] as const
const admin = ['admin'] as const
const tutor = ['tutor', 'admin'] as const
const student = ['student', 'admin'] as const

// One line per route: method, path, who.
const rules: [Method, string, Access, Partial<Pick<RouteRule, 'body' | 'stream'>>?][] = [
  // auth
  ['POST', '/auth/signup', 'public'],
  ['POST', '/auth/login', 'public'],
  ['POST', '/auth/refresh', 'public'],
  ['POST', '/auth/logout', 'public'],
  ['PATCH', '/auth/password', anyone],
  ['PATCH', '/auth/email', anyone],
  ['POST', '/auth/forgot-password/request-otp', 'public'],
  ['GET', '/auth/verify', 'public'],
  ['POST', '/auth/forgot-password/reset', 'public'],
  ['PATCH', '/auth/update-role', admin],
  ['GET', '/auth/.well-known/jwks.json', 'public'],
  // users and wallets
  ['POST', '/user/create', admin],
  ['GET', '/user/me', anyone],
  ['GET', '/user/by-id/:user_id', anyone],
  ['GET', '/user/by-email/:email', anyone],
  ['GET', '/user/by-username/:username', anyone],
  ['PATCH', '/user/:user_id/update', anyone],
  ['POST', '/user/:user_id/deposit', admin],
  ['POST', '/user/:user_id/debit', admin],
  ['GET', '/user/:user_id/transactions', anyone],
  // tutor profiles and documents
  ['GET', '/academic/tutor-profiles', 'optional'],
  ['POST', '/academic/tutor-profiles', tutor, { body: 'upload' }],
  ['GET', '/academic/tutor-profiles/:profile_id', 'optional'],
  ['PATCH', '/academic/tutor-profiles/:profile_id', tutor],
  ['DELETE', '/academic/tutor-profiles/:profile_id', tutor],
  ['POST', '/academic/tutor-profiles/:profile_id/documents', tutor, { body: 'upload' }],
  // The list and the removal go beyond the SPEC's table (the owner removes documents).
  ['GET', '/academic/tutor-profiles/:profile_id/documents', tutor],
  ['GET', '/academic/tutor-profiles/:profile_id/documents/:document_id', tutor],
  ['PATCH', '/academic/tutor-profiles/:profile_id/documents/:document_id', admin],
  ['DELETE', '/academic/tutor-profiles/:profile_id/documents/:document_id', tutor],
  // class sessions
  ['POST', '/academic/class-sessions', student],
  ['GET', '/academic/class-sessions', anyone],
  ['GET', '/academic/class-sessions/:session_id', anyone],
  ['PATCH', '/academic/class-sessions/:session_id', anyone],
  ['DELETE', '/academic/class-sessions/:session_id', student],
  ['PATCH', '/academic/class-sessions/:session_id/accept', tutor],
  ['PATCH', '/academic/class-sessions/:session_id/reject', tutor],
  ['PATCH', '/academic/class-sessions/:session_id/cancel', anyone],
  ['PATCH', '/academic/class-sessions/:session_id/processing', tutor],
  ['PATCH', '/academic/class-sessions/:session_id/complete', tutor],
  // tutor availability
  ['PUT', '/academic/tutors/:tutor_id/availability', tutor],
  ['GET', '/academic/tutors/:tutor_id/availability', 'optional'],
  ['GET', '/academic/tutors/:tutor_id/free-slots', 'optional'],
  // classes
  ['POST', '/academic/classes', student],
  ['GET', '/academic/classes', anyone],
  ['GET', '/academic/classes/:class_id', anyone],
  ['PATCH', '/academic/classes/:class_id/accept', tutor],
  ['PATCH', '/academic/classes/:class_id/reject', tutor],
  ['PATCH', '/academic/classes/:class_id/pause', anyone],
  ['PATCH', '/academic/classes/:class_id/resume', anyone],
  ['PATCH', '/academic/classes/:class_id/end', anyone],
  // notifications
  ['GET', '/notifications', anyone],
  ['PATCH', '/notifications/:id/read', anyone],
  ['POST', '/notifications/read-all', anyone],
  ['GET', '/notifications/stream', anyone, { stream: true }],
  ['GET', '/notifications/preferences', anyone],
  ['PUT', '/notifications/preferences', anyone],
  ['POST', '/notifications/calendar-token', anyone],
  // Calendar apps cannot send a bearer token: the secret is in the URL (`{token}.ics`).
  ['GET', '/notifications/calendar/:file', 'public'],
]

export const routeTable: readonly RouteRule[] = rules.map(([method, path, access, extra]) => ({
  method,
  path,
  access,
  ...extra,
}))

/** The services behind the gateway, by the first segment of the path. */
export const services = ['auth', 'user', 'academic', 'notifications'] as const
export type Service = (typeof services)[number]

export function serviceOf(path: string): Service {
  const first = path.split('/')[1]
  const service = services.find((s) => s === first)
  if (!service) throw new Error(`route ${path} is under no service prefix`)
  return service
}

/** The table's rules of one service, by path pattern and then method. */
export function rulesByPattern(service: Service): Map<string, Partial<Record<Method, RouteRule>>> {
  const byPattern = new Map<string, Partial<Record<Method, RouteRule>>>()
  for (const rule of routeTable) {
    if (serviceOf(rule.path) !== service) continue
    const methods = byPattern.get(rule.path) ?? {}
    methods[rule.method] = rule
    byPattern.set(rule.path, methods)
  }
  return byPattern
}

/** `/user/{user_id}/update` (OpenAPI) → `/user/:user_id/update` (the table's syntax). */
export function patternOfOpenApiPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1')
}
