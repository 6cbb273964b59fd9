// A client of the public API, as a web or mobile app would use it: JSON over the gateway's one
// URL, a bearer token, multipart for uploads. Nothing here knows a service's address.
import { setTimeout as sleep } from 'node:timers/promises'

// biome-ignore lint/suspicious/noExplicitAny: answers are JSON that a test reads field by field
export interface Answer<T = any> {
  status: number
  headers: Headers
  body: T
}

export class Client {
  readonly url: string
  token: string | undefined
  /** Waits out a 429's Retry-After (up to this many seconds) and tries again, as a patient client. */
  retryRateLimitedUpTo: number

  constructor(url: string, token?: string, retryRateLimitedUpTo = 0) {
    this.url = url
    this.token = token
    this.retryRateLimitedUpTo = retryRateLimitedUpTo
  }

  as(token: string): Client {
    return new Client(this.url, token, this.retryRateLimitedUpTo)
  }

  // biome-ignore lint/suspicious/noExplicitAny: as Answer
  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<T>> {
    const init: RequestInit = { method, headers: { ...headers } }
    if (this.token) (init.headers as Record<string, string>).authorization = `Bearer ${this.token}`
    if (body instanceof FormData) init.body = body
    else if (body !== undefined) {
      ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    let res = await fetch(`${this.url}${path}`, init)
    const wait = Number(res.headers.get('retry-after'))
    if (res.status === 429 && wait > 0 && wait <= this.retryRateLimitedUpTo) {
      await res.text()
      await sleep(wait * 1000)
      res = await fetch(`${this.url}${path}`, init)
    }
    const text = await res.text()
    let parsed: unknown = text
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
      parsed = JSON.parse(text)
    }
    return { status: res.status, headers: res.headers, body: parsed as T }
  }

  /** The call, which must answer `status`; its body. */
  // biome-ignore lint/suspicious/noExplicitAny: as Answer
  async expect<T = any>(
    status: number,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> {
    const answer = await this.call<T>(method, path, body, headers)
    if (answer.status !== status) {
      throw new Error(
        `${method} ${path}: expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`,
      )
    }
    return answer.body
  }
}

export interface Account {
  id: string
  username: string
  password: string
  client: Client
}

let counter = 0

/** Signs up (student or tutor) and logs in: an account with a client holding its token. */
export async function newAccount(
  api: Client,
  role: 'student' | 'tutor',
  name = `${role} ${++counter}`,
): Promise<Account> {
  const username = `e2e_${role}_${process.pid}_${++counter}`
  const password = 'a good long password'
  const created = await api.expect(201, 'POST', '/auth/signup', {
    username,
    email: `${username}@example.com`,
    password,
    role,
    name,
  })
  return { id: created.id, username, password, client: await login(api, username, password) }
}

export async function login(api: Client, username: string, password: string): Promise<Client> {
  const tokens = await api.expect(200, 'POST', '/auth/login', { username, password })
  return api.as(tokens.access_token)
}

/**
 * Polls until check returns something other than undefined/false: effects that travel over the
 * bus arrive in their own time; tests wait for them, never for a fixed while.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last })
    }
    await sleep(100)
  }
}

/** A small valid PDF and PNG: the service decides a file's type by its bytes. */
export const files = {
  pdf: Buffer.from(
    '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
  ),
  png: Buffer.from(
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
      '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
    'hex',
  ),
}
