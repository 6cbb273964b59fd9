import t from 'tap'
import {
  canonicalJson,
  decideClaim,
  IDEMPOTENCY_TTL_MS,
  requestHash,
  STALE_CLAIM_MS,
} from '../src/index.ts'

t.test('bodies are fingerprinted by their canonical JSON', async (t) => {
  t.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
  )
  t.equal(requestHash({ a: 1, b: 2 }), requestHash({ b: 2, a: 1 }), 'key order does not matter')
  t.equal(requestHash({ a: 1, b: undefined }), requestHash({ a: 1 }), 'undefined is absent')
  t.not(requestHash({ a: 1 }), requestHash({ a: 2 }))
  t.not(requestHash([1, 2]), requestHash([2, 1]), 'array order matters')
})

t.test('what a stored key means for a new request with it', async (t) => {
  const now = new Date('2030-01-01T12:00:00Z')
  const ago = (ms: number) => new Date(now.getTime() - ms)
  const h = requestHash({ a: 1 })
  const stored = (over: object) => ({
    request_hash: h,
    status_code: 200,
    claimed_at: ago(1000),
    created_at: ago(1000),
    ...over,
  })
  t.same(decideClaim(stored({}), h, now), { kind: 'replay' })
  t.same(decideClaim(stored({ status_code: 409 }), h, now), { kind: 'replay' }, 'refusals too')
  t.same(decideClaim(stored({}), 'other', now), { kind: 'reused' })
  t.same(decideClaim(stored({ status_code: null }), 'other', now), { kind: 'reused' })
  t.same(decideClaim(stored({ status_code: null }), h, now), {
    kind: 'in-progress',
    retryAfterMs: STALE_CLAIM_MS - 1000,
  })
  t.same(
    decideClaim(stored({ status_code: null, claimed_at: ago(STALE_CLAIM_MS) }), h, now),
    { kind: 'take-over' },
    'an idle claim without an answer is abandoned',
  )
  t.same(
    decideClaim(stored({ created_at: ago(IDEMPOTENCY_TTL_MS) }), 'other', now),
    { kind: 'take-over' },
    'an expired key is free, whatever body it had',
  )
  t.same(decideClaim(stored({ status_code: null }), h, now, 500), { kind: 'take-over' })
})
