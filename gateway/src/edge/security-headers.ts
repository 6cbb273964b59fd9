// The security headers of every answer, from one helmet configuration. @fastify/helmet applies
// it to the gateway's own routes (docs, health); on the proxied routes the same headers are set
// from a copy made once here, because @fastify/helmet builds helmet's middleware anew for each
// request (its directives parsed every time: a few per cent of the gateway's CPU under load).
import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

export const helmetOptions = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      // The docs UI: its own scripts and styles (with inline styles), images as data URIs.
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
      upgradeInsecureRequests: null,
    },
  },
  // Cross-origin API clients (allowed by CORS) read the answers.
  crossOriginResourcePolicy: { policy: 'same-site' as const },
} satisfies HelmetOptions

/** The headers helmet sets with these options, as a plain object made once. */
export function securityHeaders(options: HelmetOptions = helmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {})
  return headers
}
