// /academic/class-sessions: booking. Every route needs an access token; each handler calls one
// use-case (use-cases/class-sessions.ts) and answers. Refusals are typed errors that
// routes/problems.ts maps; a booking request's definitive ones are stored with its key.
//
//   method  path                                   who                           what
//   POST    /class-sessions                        student; admin for a student  request → 201
//   GET     /class-sessions                        any (own; admin all)          filtered, paged
//   GET     /class-sessions/:session_id            its student or tutor, admin   with its history
//   PATCH   /class-sessions/:session_id            its student or tutor, admin   reschedule, note;
//                                                                                admin: status
//   DELETE  /class-sessions/:session_id            its student (requested), admin → 204
//   PATCH   /class-sessions/:session_id/accept     its tutor, admin              authorized only
//   PATCH   /class-sessions/:session_id/reject     its tutor, admin
//   PATCH   /class-sessions/:session_id/processing its tutor, admin
//   PATCH   /class-sessions/:session_id/complete   its tutor, admin              capture
//   PATCH   /class-sessions/:session_id/cancel     its student or tutor, admin   release / charge
import { type App, bearerSecurity, HttpProblem, problems } from '@tms/http'
import { IdempotencyKeyHeaders, refusal, replyIdempotent } from '@tms/idempotency'
import { currentUser, requireAuthentication } from '@tms/jwt'
import Type from 'typebox'
import { SessionConflictError } from '../domain/session-errors.ts'
import {
  type ActionName,
  actOnSession,
  deleteSession,
  getClassSession,
  listClassSessions,
  patchSession,
  requestSession,
} from '../use-cases/class-sessions.ts'
import type { AcademicDeps } from '../use-cases/deps.ts'
import { bookingTransaction } from '../use-cases/session-moves.ts'
import { problemFor } from './problems.ts'
import {
  ActionBody,
  ListQuery,
  PatchBody,
  RequestBody,
  SessionPage,
  SessionParams,
  SessionSchema,
  SessionWithHistory,
} from './schemas/class-sessions.ts'

const common = { tags: ['class sessions'], security: bearerSecurity }

/** The transition routes: path, the state machine's action, summary. */
const actions: [path: string, action: ActionName, summary: string][] = [
  ['accept', 'accept', 'Accept an authorized request (its tutor; admin)'],
  ['reject', 'reject', 'Reject a request (its tutor; admin)'],
  ['processing', 'start', 'Start an accepted session (its tutor; admin)'],
  ['complete', 'complete', 'Complete it: the hold is captured (its tutor; admin)'],
  ['cancel', 'cancel', 'Cancel (its student or tutor before processing; admin any open)'],
]

export async function classSessionRoutes(app: App, options: { deps: AcademicDeps }) {
  const { deps } = options
  requireAuthentication(app)

  // '' rather than '/': the collection is /academic/class-sessions, without a trailing slash.
  app.post(
    '',
    {
      schema: {
        ...common,
        summary: 'Request a session (a student; an admin for a student)',
        description:
          'The price comes from the tutor’s approved profile. The wallet then holds it ' +
          '(`payment_status: authorized`) or declines (the session is cancelled, ' +
          '`insufficient_funds`). Overlapping an open session of the student is 409.',
        headers: IdempotencyKeyHeaders,
        body: RequestBody,
        response: { 201: SessionSchema, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const caller = currentUser(request)
      return replyIdempotent(request, reply, {
        db: deps.db,
        caller: caller.id,
        clock: deps.clock,
        transaction: bookingTransaction,
        async effect(trx) {
          try {
            return { status: 201, body: await requestSession(trx, deps, caller, request.body) }
          } catch (err) {
            // An overlap is a definitive answer: stored with the key and replayed.
            const problem = err instanceof SessionConflictError ? problemFor(err) : err
            if (!(problem instanceof HttpProblem)) throw err
            return refusal(problem.statusCode, problem.message, problem.type)
          }
        },
      })
    },
  )

  app.get(
    '',
    {
      schema: {
        ...common,
        summary: 'Sessions by start time (own; an admin’s: all)',
        querystring: ListQuery,
        response: { 200: SessionPage, ...problems(400, 401) },
      },
    },
    async (request) => listClassSessions(deps, currentUser(request), request.query),
  )

  app.get(
    '/:session_id',
    {
      schema: {
        ...common,
        summary: 'A session with its history (its student or tutor; admin)',
        params: SessionParams,
        response: { 200: SessionWithHistory, ...problems(401, 404) },
      },
    },
    async (request) => getClassSession(deps, currentUser(request), request.params.session_id),
  )

  app.patch(
    '/:session_id',
    {
      schema: {
        ...common,
        summary: 'Reschedule or annotate; an admin’s override of the status',
        description:
          'New times make a new revision at a new price; an accepted session goes back to ' +
          '`requested` and the wallet adjusts the hold. `status` (admins, with `reason`; ' +
          '`charge` with `cancelled`) moves the session to any status but out of `completed`.',
        params: SessionParams,
        body: PatchBody,
        response: { 200: SessionSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      patchSession(deps, currentUser(request), request.params.session_id, request.body),
  )

  app.delete(
    '/:session_id',
    {
      schema: {
        ...common,
        summary: 'Delete (its student while requested; admin any)',
        params: SessionParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deleteSession(deps, currentUser(request), request.params.session_id)
      return reply.code(204).send(null)
    },
  )

  for (const [path, action, summary] of actions) {
    app.patch(
      `/:session_id/${path}`,
      {
        // The body is optional: none at all reads as `{}`.
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
      async (request) =>
        actOnSession(deps, currentUser(request), request.params.session_id, action, request.body),
    )
  }
}
