// Request and response schemas of /academic/class-sessions; every body refuses unknown fields.
// The views are derived from them (`Static`), and the use-cases answer in these shapes.
import Type, { type Static, type TSchema } from 'typebox'
import { paymentStatuses, sessionStatuses, systemCancelReasons } from '../../domain/sessions.ts'

const strict = { additionalProperties: false } as const
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

const Id = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })
const Status = Type.Enum(sessionStatuses)
const TimeInput = Type.String({
  maxLength: 64,
  description: 'ISO 8601 with Z or an offset (normalised to UTC), on a whole minute',
  examples: ['2030-01-07T17:00:00Z'],
})
/**
 * A person's reason, which becomes the session's `cancel_reason` when it closes it: never one of
 * the codes the service sets itself (`expired`, `insufficient_funds`, `deleted`), so that a
 * cancel cannot pass for an expiry or a declined hold.
 */
const notSystemCode = { not: { enum: Object.values(systemCancelReasons) } }
const Reason = {
  ...Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  ...notSystemCode,
  description: 'free text; not one of the codes the service sets itself',
}

export const SessionParams = Type.Object({ session_id: Id }, strict)

export const RequestBody = Type.Object(
  {
    tutor_id: Id,
    start_time: TimeInput,
    end_time: TimeInput,
    subject: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
    student_id: Type.Optional({ ...Id, description: 'admins only: the student it is for' }),
  },
  strict,
)

export const PatchBody = Type.Object(
  {
    start_time: Type.Optional(TimeInput),
    end_time: Type.Optional(TimeInput),
    note: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
    status: Type.Optional({ ...Status, description: 'admins only: an override' }),
    reason: Type.Optional({
      ...Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' }),
      ...notSystemCode,
      description: 'required with `status`: recorded with the acting admin',
    }),
    charge: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'with `status: cancelled`: captured from the hold (0 to the price)',
      }),
    ),
  },
  { ...strict, minProperties: 1 },
)

/** The body of a transition is optional: none at all reads as `{}`. */
export const ActionBody = Type.Object({ reason: Type.Optional(Reason) }, strict)

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    class_id: Type.Optional(Id),
    status: Type.Optional(Status),
    tutor_id: Type.Optional(Id),
    student_id: Type.Optional(Id),
    from: Type.Optional({ ...TimeInput, description: 'sessions ending after this time' }),
    to: Type.Optional({ ...TimeInput, description: 'sessions starting before this time' }),
  },
  strict,
)

const sessionFields = {
  id: Type.String(),
  class_id: Nullable(Type.String()),
  tutor_id: Type.String(),
  student_id: Type.String(),
  subject: Type.String(),
  note: Nullable(Type.String()),
  start_time: Type.String({ format: 'date-time' }),
  end_time: Type.String({ format: 'date-time' }),
  status: Status,
  revision: Type.Integer({ description: '1, plus one per reschedule or reopening' }),
  price: Type.Integer({ description: 'minor units' }),
  fee: Type.Integer({ description: "the platform's part of the price" }),
  currency: Type.String(),
  payment_status: Type.Enum(paymentStatuses),
  amount_charged: Type.Integer({ description: 'charged by a late cancellation' }),
  cancel_reason: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
}
export const SessionSchema = Type.Object(sessionFields)
export const SessionWithHistory = Type.Object({
  ...sessionFields,
  history: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time' }),
      revision: Type.Integer(),
      from_status: Nullable(Status),
      to_status: Status,
      actor_role: Type.String(),
      actor_id: Type.Optional(Nullable(Type.String({ description: 'shown to admins only' }))),
      reason: Nullable(Type.String()),
    }),
  ),
})
export const SessionPage = Type.Object({
  items: Type.Array(SessionSchema),
  next_cursor: Nullable(Type.String()),
})

export type SessionView = Static<typeof SessionSchema>
export type SessionWithHistoryView = Static<typeof SessionWithHistory>
export type SessionPageView = Static<typeof SessionPage>
export type RequestInput = Static<typeof RequestBody>
export type PatchInput = Static<typeof PatchBody>
export type ListInput = Static<typeof ListQuery>
