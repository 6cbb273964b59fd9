// /academic/class-sessions: booking. Each handler validates (TypeBox), calls one use-case and
// answers; the use-cases' typed errors become problems at the bottom of this file.
//
//   POST   /class-sessions                       student (admin: for a student) → 201
//   GET    /class-sessions                       own (admin: all), filtered, paged
//   GET    /class-sessions/:session_id           own (admin: any), with its history
//   PATCH  /class-sessions/:session_id           reschedule or note; admin: status (override)
//   DELETE /class-sessions/:session_id           the student while requested; admin any → 204
//   PATCH  /class-sessions/:session_id/accept     tutor, admin
//   PATCH  /class-sessions/:session_id/reject     tutor, admin
//   PATCH  /class-sessions/:session_id/processing tutor, admin
//   PATCH  /class-sessions/:session_id/complete   tutor, admin
//   PATCH  /class-sessions/:session_id/cancel     student, tutor, admin
import { type App, bearerSecurity, HttpProblem, ProblemSchema, problemType } from '@tms/http'
import { IdempotencyKeyHeaders, refusal, replyIdempotent } from '@tms/idempotency'
import { authenticate, currentUser } from '@tms/jwt'
import type { FastifyRequest } from 'fastify'
import Type, { type TSchema } from 'typebox'
import { findUserRole } from '../db/sessions.ts'
import { PricingError } from '../domain/pricing.ts'
import {
  InvalidSessionInputError,
  SessionConflictError,
  SessionForbiddenError,
  SessionNotFoundError,
} from '../domain/session-errors.ts'
import { paymentStatuses, sessionStatuses } from '../domain/sessions.ts'
import {
  type ActionName,
  actOnSession,
  bookingTransaction,
  type Caller,
  deleteSession,
  getClassSession,
  listClassSessions,
  patchSession,
  requestSession,
  type SessionDeps,
  type SessionView,
} from '../use-cases/class-sessions.ts'

const strict = { additionalProperties: false } as const
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))

const Id = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })
const Status = Type.Enum(sessionStatuses)
const TimeInput = Type.String({
  maxLength: 64,
  description: 'ISO 8601 with Z or an offset (normalised to UTC), on a whole minute',
  examples: ['2030-01-07T17:00:00Z'],
})
const Reason = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' })

const SessionParams = Type.Object({ session_id: Id }, strict)

const RequestBody = Type.Object(
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

const PatchBody = Type.Object(
  {
    start_time: Type.Optional(TimeInput),
    end_time: Type.Optional(TimeInput),
    note: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
    status: Type.Optional({ ...Status, description: 'admins only: an override' }),
    reason: Type.Optional({
      ...Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' }),
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
const ActionBody = Type.Object({ reason: Type.Optional(Reason) }, strict)

const ListQuery = Type.Object(
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
const SessionSchema = Type.Object(sessionFields)
const SessionWithHistory = Type.Object({
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
const SessionPage = Type.Object({
  items: Type.Array(SessionSchema),
  next_cursor: Nullable(Type.String()),
})

/** The use-cases' refusals as problems; anything else goes on to the shared handler. */
function sessionProblem(err: unknown): unknown {
  if (err instanceof SessionNotFoundError) return new HttpProblem(404, err.message)
  if (err instanceof SessionForbiddenError) return new HttpProblem(403, err.message)
  if (err instanceof SessionConflictError) {
    return new HttpProblem(409, err.message, { type: problemType(err.kind) })
  }
  if (err instanceof InvalidSessionInputError) {
    return new HttpProblem(400, 'the request is not valid', { errors: err.errors })
  }
  if (err instanceof PricingError) {
    return new HttpProblem(409, `the session cannot be priced: ${err.message}`, { cause: err })
  }
  return err
}

export async function classSessionRoutes(app: App, options: { deps: SessionDeps }) {
  const { deps } = options
  app.addHook('onRequest', authenticate)
  app.setErrorHandler((err) => {
    throw sessionProblem(err)
  })

  /** The caller; an admin only when the users table here agrees with the token. */
  async function callerOf(request: FastifyRequest): Promise<Caller> {
    const user = currentUser(request)
    const admin = user.role === 'admin' && (await findUserRole(deps.db, user.id)) === 'admin'
    return { id: user.id, role: user.role, admin }
  }

  const common = { tags: ['class sessions'], security: bearerSecurity }

  app.post(
    '/',
    {
      schema: {
        ...common,
        summary: 'Request a session (student; admin for a student)',
        description:
          'The price comes from the tutor’s approved profile. The wallet then places a hold ' +
          '(payment_status `authorized`) or declines it (the session is cancelled, ' +
          '`insufficient_funds`). Overlapping one of the student’s open sessions is 409.',
        headers: IdempotencyKeyHeaders,
        body: RequestBody,
        response: { 201: SessionSchema, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const caller = await callerOf(request)
      return replyIdempotent(request, reply, {
        db: deps.db,
        caller: caller.id,
        clock: deps.clock,
        transaction: bookingTransaction,
        async effect(trx) {
          try {
            return { status: 201, body: await requestSession(deps, trx, caller, request.body) }
          } catch (err) {
            // A definitive answer, stored with the key and replayed.
            if (err instanceof SessionConflictError) {
              return refusal(409, err.message, problemType(err.kind))
            }
            throw err
          }
        },
      })
    },
  )

  app.get(
    '/',
    {
      schema: {
        ...common,
        summary: 'Sessions (own; admin: all), by start time',
        querystring: ListQuery,
        response: { 200: SessionPage, ...problems(400, 401) },
      },
    },
    async (request) => listClassSessions(deps, await callerOf(request), request.query),
  )

  app.get(
    '/:session_id',
    {
      schema: {
        ...common,
        summary: 'A session with its history (own; admin: any)',
        params: SessionParams,
        response: { 200: SessionWithHistory, ...problems(401, 404) },
      },
    },
    async (request) => getClassSession(deps, await callerOf(request), request.params.session_id),
  )

  app.patch(
    '/:session_id',
    {
      schema: {
        ...common,
        summary: 'Reschedule or annotate; admin: override the status',
        description:
          'New times make a new revision at a new price; an accepted session goes back to ' +
          '`requested` and the wallet adjusts the hold. `status` (admin only, with `reason`; ' +
          '`charge` with `cancelled`) moves the session to any status but out of `completed`.',
        params: SessionParams,
        body: PatchBody,
        response: { 200: SessionSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      patchSession(deps, await callerOf(request), request.params.session_id, request.body),
  )

  app.delete(
    '/:session_id',
    {
      schema: {
        ...common,
        summary: 'Delete (the student while requested; admin any)',
        params: SessionParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deleteSession(deps, await callerOf(request), request.params.session_id)
      return reply.code(204).send(null)
    },
  )

  const actions: [path: string, action: ActionName, summary: string][] = [
    ['accept', 'accept', 'Accept (the tutor; admin) an authorized request'],
    ['reject', 'reject', 'Reject (the tutor; admin) a request'],
    ['processing', 'start', 'Start (the tutor; admin) an accepted session'],
    ['complete', 'complete', 'Complete (the tutor; admin): the hold is captured'],
    ['cancel', 'cancel', 'Cancel (its student or tutor before processing; admin any open)'],
  ]
  for (const [path, action, summary] of actions) {
    app.patch(
      `/:session_id/${path}`,
      {
        preValidation: async (request) => {
          request.body ??= {}
        },
        schema: {
          ...common,
          summary,
          params: SessionParams,
          body: ActionBody,
          response: { 200: SessionSchema, ...problems(400, 401, 403, 404, 409) },
        },
      },
      async (request): Promise<SessionView> =>
        actOnSession(deps, await callerOf(request), request.params.session_id, action, {
          reason: request.body.reason,
        }),
    )
  }
}
