// The API as a client developer finds it at the one URL: the merged OpenAPI document lists every
// endpoint of the SPEC's auth, user, tutor-profile and class-session tables exactly once, with
// the security schemes unified, and the docs UI and root check answer.
import t from 'tap'
import { Client, startSystem } from '../src/index.ts'

/** The SPEC's endpoints that the services implement (method and OpenAPI path). */
const specEndpoints = `
POST /auth/signup
POST /auth/login
POST /auth/refresh
POST /auth/logout
PATCH /auth/password
PATCH /auth/email
POST /auth/forgot-password/request-otp
GET /auth/verify
POST /auth/forgot-password/reset
PATCH /auth/update-role
GET /auth/.well-known/jwks.json
POST /user/create
GET /user/me
GET /user/by-id/{user_id}
GET /user/by-email/{email}
GET /user/by-username/{username}
PATCH /user/{user_id}/update
POST /user/{user_id}/deposit
POST /user/{user_id}/debit
GET /user/{user_id}/transactions
GET /academic/tutor-profiles
POST /academic/tutor-profiles
GET /academic/tutor-profiles/{profile_id}
PATCH /academic/tutor-profiles/{profile_id}
DELETE /academic/tutor-profiles/{profile_id}
POST /academic/tutor-profiles/{profile_id}/documents
GET /academic/tutor-profiles/{profile_id}/documents/{document_id}
PATCH /academic/tutor-profiles/{profile_id}/documents/{document_id}
POST /academic/class-sessions
GET /academic/class-sessions
GET /academic/class-sessions/{session_id}
PATCH /academic/class-sessions/{session_id}
DELETE /academic/class-sessions/{session_id}
PATCH /academic/class-sessions/{session_id}/accept
PATCH /academic/class-sessions/{session_id}/reject
PATCH /academic/class-sessions/{session_id}/cancel
PATCH /academic/class-sessions/{session_id}/processing
PATCH /academic/class-sessions/{session_id}/complete
`
  .trim()
  .split('\n')

t.test('the merged document lists every SPEC endpoint once; the docs answer', async (t) => {
  const system = await startSystem(t)
  const api = new Client(system.url)
  const doc = await api.expect(200, 'GET', '/openapi.json')
  const listed: string[] = []
  for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
    for (const method of Object.keys(item)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) {
        listed.push(`${method.toUpperCase()} ${path}`)
      }
    }
  }
  const missing = specEndpoints.filter((e) => !listed.includes(e))
  t.same(missing, [], 'every SPEC endpoint is in the document')
  const twice = listed.filter((e, i) => listed.indexOf(e) !== i)
  t.same(twice, [], 'none twice')
  t.ok(!listed.some((e) => /\/(metrics|health\/ready)$/.test(e)), 'no service internals')
  t.match(Object.keys(doc.components.securitySchemes).sort(), ['bearerAuth', 'oauth2Password'])
  t.equal((await api.call('GET', '/docs/')).status, 200, 'the docs UI')
  t.match(await api.expect(200, 'GET', '/'), { status: 'ok' }, "the gateway's root check")
})
