import t from 'tap'
import { ContractError, catalogue, eventTypes, makeEnvelope, parseEnvelope } from '../src/index.ts'

const registered = {
  user_id: 'u1',
  username: 'ada_l',
  email: 'ada@example.com',
  role: 'tutor' as const,
  name: 'Ada',
  phone: null,
}

t.test('the catalogue has every event type of the SPEC', async (t) => {
  t.same(eventTypes.sort(), [
    'academic.session.accepted',
    'academic.session.cancelled',
    'academic.session.completed',
    'academic.session.rejected',
    'academic.session.requested',
    'academic.session.rescheduled',
    'academic.tutor-profile.approved',
    'academic.tutor-profile.rejected',
    'auth.user.email-changed',
    'auth.user.registered',
    'auth.user.role-changed',
    'wallet.hold.declined',
    'wallet.hold.placed',
    'wallet.hold.released',
    'wallet.payment.captured',
  ])
  t.ok(catalogue['auth.user.registered'])
})

t.test('a valid event makes an envelope that parses back', async (t) => {
  const env = makeEnvelope('auth.user.registered', registered, {
    producer: 'auth',
    correlationId: 'req-1',
  })
  t.match(env, {
    type: 'auth.user.registered',
    version: 1,
    producer: 'auth',
    correlation_id: 'req-1',
  })
  t.match(env.id, /^[0-9a-f-]{36}$/)
  t.same(parseEnvelope(JSON.parse(JSON.stringify(env))), env)
})

t.test('invalid data is refused on both sides', async (t) => {
  t.throws(
    () =>
      makeEnvelope('auth.user.registered', { ...registered, role: 'root' } as never, {
        producer: 'auth',
      }),
    ContractError,
  )
  const env = makeEnvelope('auth.user.registered', registered, { producer: 'auth' })
  t.throws(() => parseEnvelope({ ...env, data: { ...registered, extra: 1 } }), ContractError)
  t.throws(
    () => parseEnvelope({ ...env, data: { ...registered, email: 'not-an-email' } }),
    ContractError,
  )
  t.throws(() => parseEnvelope({ ...env, type: 'auth.user.deleted' }), /unknown event type/)
  t.throws(() => parseEnvelope({ ...env, version: 2 }), /version 2 is not supported/)
  t.throws(() => parseEnvelope({ ...env, id: 'nope' }), /envelope: \/id/)
  t.throws(() => parseEnvelope('just a string'), ContractError)
})

t.test('money is whole minor units, never negative or fractional', async (t) => {
  const base = {
    session_id: 's1',
    revision: 1,
    student_id: 'a',
    tutor_id: 'b',
    price: 1500,
    fee: 150,
    currency: 'usd',
    actor_id: 'b',
  }
  t.ok(makeEnvelope('academic.session.completed', base, { producer: 'academic' }))
  for (const price of [-1, 10.5]) {
    t.throws(() =>
      makeEnvelope('academic.session.completed', { ...base, price }, { producer: 'x' }),
    )
  }
  t.throws(() =>
    makeEnvelope('academic.session.completed', { ...base, currency: 'USD' }, { producer: 'x' }),
  )
})

t.test('a cancellation carries its charge and fee; decisions carry the revision', async (t) => {
  const decision = { session_id: 's1', revision: 2, student_id: 'a', tutor_id: 'b', actor_id: 'a' }
  t.ok(
    makeEnvelope(
      'academic.session.cancelled',
      { ...decision, charge: 500, fee: 50 },
      { producer: 'academic' },
    ),
  )
  t.throws(
    () => makeEnvelope('academic.session.cancelled', decision as never, { producer: 'x' }),
    /charge/,
  )
  t.throws(
    () =>
      makeEnvelope(
        'academic.session.cancelled',
        { ...decision, charge: -1, fee: 0 },
        { producer: 'x' },
      ),
    ContractError,
  )
  t.ok(makeEnvelope('academic.session.accepted', decision, { producer: 'academic' }))
  const { revision: _, ...noRevision } = decision
  t.throws(() => makeEnvelope('academic.session.rejected', noRevision as never, { producer: 'x' }))
})
