// The event envelope and a schema for every event type of the SPEC's catalogue (version 1).
// Producers validate before an event enters the outbox; consumers validate on arrival, and a
// message that fails goes straight to the dead-letter queue.
import { randomUUID } from 'node:crypto'
import Type, { type Static, type TSchema } from 'typebox'
import { Compile, type Validator } from 'typebox/compile'
import { Email, Name, Phone, Role, Username } from './account.ts'

export * from './account.ts'

const Id = Type.String({ minLength: 1, maxLength: 64 })
const Money = Type.Integer({ minimum: 0 })
const Currency = Type.String({ pattern: '^[a-z]{3}$' })
const Time = Type.String({ format: 'date-time' })
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

const strict = { additionalProperties: false } as const

const TutorProfileReviewed = Type.Object(
  { profile_id: Id, user_id: Id, reviewed_by: Id, review_note: Nullable(Type.String()) },
  strict,
)
const Revision = Type.Integer({ minimum: 1 })
/**
 * A decision about a session. `revision` (beyond the SPEC's list) is the session's revision when
 * it was made: the wallet tells a late decision about an earlier life of the session (before an
 * admin reopened it) from one about the current hold.
 */
const sessionDecision = {
  session_id: Id,
  revision: Revision,
  student_id: Id,
  tutor_id: Id,
  actor_id: Nullable(Id),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
}
const SessionDecision = Type.Object(sessionDecision, strict)
const Hold = Type.Object(
  {
    session_id: Id,
    revision: Revision,
    student_id: Id,
    amount: Money,
    available_balance: Type.Optional(Type.Integer()),
  },
  strict,
)

/** Every event type, with the schema of its `data` for version 1. */
export const catalogue = {
  'auth.user.registered': Type.Object(
    {
      user_id: Id,
      username: Username,
      email: Email,
      role: Role,
      name: Nullable(Name),
      phone: Nullable(Phone),
    },
    strict,
  ),
  'auth.user.role-changed': Type.Object({ user_id: Id, role: Role, changed_by: Id }, strict),
  'auth.user.email-changed': Type.Object({ user_id: Id, email: Email }, strict),
  'academic.tutor-profile.approved': TutorProfileReviewed,
  'academic.tutor-profile.rejected': TutorProfileReviewed,
  'academic.session.requested': Type.Object(
    {
      session_id: Id,
      revision: Revision,
      student_id: Id,
      tutor_id: Id,
      price: Money,
      fee: Money,
      currency: Currency,
      start_time: Time,
      end_time: Time,
    },
    strict,
  ),
  'academic.session.rescheduled': Type.Object(
    {
      session_id: Id,
      revision: Revision,
      price: Money,
      fee: Money,
      start_time: Time,
      end_time: Time,
    },
    strict,
  ),
  'academic.session.accepted': SessionDecision,
  'academic.session.rejected': SessionDecision,
  /** `charge` is captured from the hold (a late cancel), `fee` is the platform's part of it. */
  'academic.session.cancelled': Type.Object(
    { ...sessionDecision, charge: Money, fee: Money },
    strict,
  ),
  'academic.session.completed': Type.Object(
    {
      session_id: Id,
      revision: Revision,
      student_id: Id,
      tutor_id: Id,
      price: Money,
      fee: Money,
      currency: Currency,
      actor_id: Nullable(Id),
    },
    strict,
  ),
  'wallet.hold.placed': Hold,
  'wallet.hold.declined': Hold,
  'wallet.hold.released': Hold,
  'wallet.payment.captured': Type.Object(
    {
      session_id: Id,
      student_id: Id,
      tutor_id: Id,
      price: Money,
      fee: Money,
      transaction_id: Id,
    },
    strict,
  ),
} as const

export type EventType = keyof typeof catalogue

/**
 * Who consumes what: one queue per consuming service and purpose, named without the bus prefix.
 * Every service declares all of these at start-up, so an event published before its consumer
 * first started waits in the consumer's queue instead of being dropped.
 */
export const consumerQueues = {
  'user-wallet.profiles': [
    'auth.user.registered',
    'auth.user.role-changed',
    'auth.user.email-changed',
  ],
  'user-wallet.booking': [
    'academic.session.requested',
    'academic.session.rescheduled',
    'academic.session.rejected',
    'academic.session.cancelled',
    'academic.session.completed',
  ],
  'academic.payments': [
    'wallet.hold.placed',
    'wallet.hold.declined',
    'wallet.hold.released',
    'wallet.payment.captured',
  ],
  'academic.users': ['auth.user.registered', 'auth.user.role-changed'],
} as const satisfies Record<string, readonly EventType[]>
export type ConsumerQueue = keyof typeof consumerQueues
/** The event types bound to a consumer queue. */
export type ConsumerEventType<C extends ConsumerQueue> = (typeof consumerQueues)[C][number]
export type EventData<T extends EventType> = Static<(typeof catalogue)[T]>
export const eventTypes = Object.keys(catalogue) as EventType[]
export const CURRENT_VERSION = 1

/** An envelope of one event type: `type` and `data` agree. */
interface EnvelopeOf<T extends EventType> {
  id: string
  type: T
  version: number
  occurred_at: string
  producer: string
  correlation_id: string
  data: EventData<T>
}

/**
 * The envelope of an event: for one type, that type's; for several (the default: all), the union
 * of theirs, so a `switch (event.type)` narrows `event.data` without a cast.
 */
export type Envelope<T extends EventType = EventType> = { [K in T]: EnvelopeOf<K> }[T]

const EnvelopeSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String({ minLength: 1, maxLength: 100 }),
    version: Type.Integer({ minimum: 1 }),
    occurred_at: Time,
    producer: Type.String({ minLength: 1, maxLength: 64 }),
    correlation_id: Type.String({ minLength: 1, maxLength: 128 }),
    data: Type.Object({}),
  },
  strict,
)

const envelopeValidator = Compile(EnvelopeSchema)
const dataValidators = new Map<string, Validator>(
  Object.entries(catalogue).map(([type, schema]) => [type, Compile(schema as TSchema)]),
)

/** An event that does not match its contract. Never worth retrying. */
export class ContractError extends Error {
  override name = 'ContractError'
}

function describe(validator: Validator, value: unknown): string {
  return validator
    .Errors(value)
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ')
}

/** Validates data against its type's contract and wraps it in an envelope. */
export function makeEnvelope<T extends EventType>(
  type: T,
  data: EventData<T>,
  meta: { producer: string; correlationId?: string; id?: string; occurredAt?: Date },
): Envelope<T> {
  const validator = dataValidators.get(type)
  if (!validator) throw new ContractError(`unknown event type "${type}"`)
  if (!validator.Check(data)) {
    throw new ContractError(`${type} v${CURRENT_VERSION} data: ${describe(validator, data)}`)
  }
  const id = meta.id ?? randomUUID()
  const envelope: EnvelopeOf<T> = {
    id,
    type,
    version: CURRENT_VERSION,
    occurred_at: (meta.occurredAt ?? new Date()).toISOString(),
    producer: meta.producer,
    correlation_id: meta.correlationId ?? id,
    data,
  }
  // For a generic T the compiler cannot see that EnvelopeOf<T> is a member of the union.
  return envelope as Envelope<T>
}

/** Validates a received message (already JSON-parsed) as an envelope of a known type. */
export function parseEnvelope(raw: unknown): Envelope {
  if (!envelopeValidator.Check(raw)) {
    throw new ContractError(`envelope: ${describe(envelopeValidator, raw)}`)
  }
  const envelope = raw as Envelope
  if (envelope.version !== CURRENT_VERSION) {
    throw new ContractError(`${envelope.type}: version ${envelope.version} is not supported`)
  }
  const validator = dataValidators.get(envelope.type)
  if (!validator) throw new ContractError(`unknown event type "${envelope.type}"`)
  if (!validator.Check(envelope.data)) {
    throw new ContractError(`${envelope.type} v1 data: ${describe(validator, envelope.data)}`)
  }
  return envelope
}
