// What every answer of every service must be, whatever the request: never a 5xx, and a refusal
// always an RFC 9457 problem (`application/problem+json` with type, title, status, detail).

/** The parts of an HTTP answer (Fastify's inject() gives them) that the check reads. */
export interface Answer {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

/** Why the answer breaks the rule, or undefined when it keeps it. */
export function answerProblem(answer: Answer): string | undefined {
  const { statusCode: status } = answer
  if (status >= 500) return `answered ${status}: ${answer.body.slice(0, 300)}`
  if (status < 400) return undefined
  const type = String(answer.headers['content-type'] ?? '')
  if (!type.startsWith('application/problem+json')) {
    return `a ${status} as ${type || 'no content type'}, not application/problem+json`
  }
  let body: Record<string, unknown>
  try {
    body = JSON.parse(answer.body)
  } catch {
    return `a ${status} whose body is not JSON: ${answer.body.slice(0, 100)}`
  }
  for (const field of ['type', 'title', 'detail'] as const) {
    if (typeof body[field] !== 'string') return `a ${status} without a string "${field}"`
  }
  if (body.status !== status) return `a ${status} whose body says status ${String(body.status)}`
  return undefined
}
