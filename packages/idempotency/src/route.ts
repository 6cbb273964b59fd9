// The HTTP side of an Idempotency-Key: the header's schema, the key's scope taken from the
// request, and the answer: a replay is marked `idempotent-replayed: true`, a stored refusal is
// sent as the problem it was, and each way a key can be refused has its own problem type.
import { type Clock, systemClock } from '@tms/clock'
import { HttpProblem, type Problem, problemBody, problemType, sendProblemBody } from '@tms/http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely, Transaction } from 'kysely'
import Type from 'typebox'
import { KEY_PATTERN } from './rules.ts'
import {
  type Answer,
  ClaimLostError,
  type IdempotencyOptions,
  type IdempotencyTables,
  InvalidKeyError,
  KeyInProgressError,
  KeyReusedError,
  runIdempotent,
} from './store.ts'

/** Spread into a route's `headers` schema. */
export const IdempotencyKeyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      pattern: KEY_PATTERN,
      description:
        'makes a retry of this request safe: the same key and body within 24 hours replays the first answer',
    }),
  ),
})

export const idempotencyProblemTypes = {
  reused: problemType('idempotency-key-reused'),
  inProgress: problemType('idempotency-key-in-progress'),
  claimLost: problemType('idempotency-claim-lost'),
} as const

/**
 * The resource a request addressed, rebuilt from its route and its decoded parameters, so that
 * `/user/%30…/deposit` and `/user/0…/deposit` are one scope for a key.
 */
export function canonicalPath(request: FastifyRequest): string {
  const params = (request.params ?? {}) as Record<string, string>
  return (request.routeOptions.url ?? request.url).replace(/:(\w+)/g, (_, name: string) =>
    encodeURIComponent(params[name] ?? ''),
  )
}

/** A definitive refusal for an effect to return: stored with the key and replayed. */
export function refusal(status: number, detail: string, type?: string): Answer {
  return { status, body: problemBody(status, detail, { type }) }
}

/** The problem a key's refusal answers with; other errors are returned unchanged. */
export function idempotencyProblem(err: unknown): unknown {
  if (err instanceof KeyReusedError) {
    return new HttpProblem(409, err.message, { type: idempotencyProblemTypes.reused })
  }
  if (err instanceof KeyInProgressError) {
    return new HttpProblem(409, err.message, {
      type: idempotencyProblemTypes.inProgress,
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    })
  }
  if (err instanceof ClaimLostError) {
    return new HttpProblem(409, err.message, { type: idempotencyProblemTypes.claimLost })
  }
  if (err instanceof InvalidKeyError) {
    return new HttpProblem(400, err.message, {
      errors: [{ field: 'idempotency-key', message: 'is not valid' }],
    })
  }
  return err
}

export interface IdempotentReplyOptions<DB extends IdempotencyTables> {
  db: Kysely<DB>
  /** Who asks: the key's scope is (caller, method, path). */
  caller: string
  /** The work: an answer below 400 is a success; one of 400 or more a definitive refusal. */
  effect: (trx: Transaction<DB>) => Promise<Answer>
  clock?: Clock
  staleClaimMs?: number
  afterClaim?: () => Promise<void>
  transaction?: IdempotencyOptions['transaction']
}

/** Runs the request's effect under its Idempotency-Key (if any) and sends the answer. */
export async function replyIdempotent<DB extends IdempotencyTables>(
  request: FastifyRequest,
  reply: FastifyReply,
  options: IdempotentReplyOptions<DB>,
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key']
  let answer: Answer & { replayed: boolean }
  try {
    answer = await runIdempotent(
      options.db,
      {
        scope: { caller: options.caller, method: request.method, path: canonicalPath(request) },
        key: typeof header === 'string' ? header : undefined,
        body: request.body,
      },
      options.effect,
      {
        clock: options.clock ?? systemClock,
        staleClaimMs: options.staleClaimMs,
        afterClaim: options.afterClaim,
        transaction: options.transaction,
      },
    )
  } catch (err) {
    throw idempotencyProblem(err)
  }
  if (answer.replayed) reply.header('idempotent-replayed', 'true')
  if (answer.status >= 400) return sendProblemBody(reply, answer.body as Problem)
  return reply.code(answer.status).send(answer.body)
}
