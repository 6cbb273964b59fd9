// The `wallet` resource: an admin's deposits and debits (under the SPEC's Idempotency-Key) and
// a wallet's history.
//
//   method  path                          who            what
//   POST    /user/{user_id}/deposit       admin          add money; 409 beyond the limits
//   POST    /user/{user_id}/debit         admin          take money out; 409 beyond available
//   GET     /user/{user_id}/transactions  self or admin  the ledger's entries, newest first

import type { Transaction } from '@tms/db'
import { type App, type HttpProblem, problems } from '@tms/http'
import {
  type Answer,
  IdempotencyKeyHeaders,
  type IdempotentReplyOptions,
  refusal,
  replyIdempotent,
} from '@tms/idempotency'
import { currentUser } from '@tms/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { WalletDatabase } from '../db/schema.ts'
import { InsufficientFundsError, InvalidAmountError } from '../domain/ledger.ts'
import type { WalletDeps } from '../use-cases/deps.ts'
import { debitMoney, depositMoney, type Mover, walletHistory } from '../use-cases/wallet.ts'
import { onlyAdmins } from './admins.ts'
import { problemFor } from './problems.ts'
import { UserIdParams } from './schemas/user.ts'
import { DebitBody, DepositBody, LedgerPage, ListQuery, MovementAnswer } from './schemas/wallet.ts'

/** How Idempotency-Key claims age (tests shorten it and pause a request after its claim). */
export type IdempotencyHooks = Pick<
  IdempotentReplyOptions<WalletDatabase>,
  'staleClaimMs' | 'afterClaim'
>

/**
 * A movement's answer to store with its key: a refusal of the funds or the amount is definitive
 * (stored and replayed); anything else thrown stores nothing and frees the key.
 */
async function movementAnswer(movement: () => Promise<unknown>): Promise<Answer> {
  try {
    return { status: 200, body: await movement() }
  } catch (err) {
    if (!(err instanceof InsufficientFundsError || err instanceof InvalidAmountError)) throw err
    const problem = problemFor(err) as HttpProblem
    return refusal(problem.statusCode, problem.message, problem.type)
  }
}

export async function walletRoutes(
  app: App,
  { deps, idempotency }: { deps: WalletDeps; idempotency?: IdempotencyHooks },
) {
  const tags = ['wallet']
  app.get(
    '/:user_id/transactions',
    {
      schema: {
        summary: 'The wallet’s ledger entries, newest first (self or admin)',
        tags,
        params: UserIdParams,
        querystring: ListQuery,
        response: { 200: LedgerPage, ...problems(400, 401, 404) },
      },
    },
    async (request) =>
      walletHistory(deps, currentUser(request), request.params.user_id, request.query),
  )

  await app.register(async (admins: App) => {
    admins.addHook('onRequest', onlyAdmins(deps))
    const money = {
      headers: IdempotencyKeyHeaders,
      params: UserIdParams,
      tags,
      response: { 200: MovementAnswer, ...problems(400, 401, 403, 404, 409) },
    }

    /** Runs a movement under the request's Idempotency-Key and sends its answer. */
    const underKey = (
      request: FastifyRequest,
      reply: FastifyReply,
      userId: string,
      move: (trx: Transaction<WalletDatabase>, who: Mover) => Promise<unknown>,
    ) => {
      const who = { userId, actorId: currentUser(request).id }
      return replyIdempotent(request, reply, {
        db: deps.db,
        caller: who.actorId,
        clock: deps.clock,
        ...idempotency,
        effect: (trx) => movementAnswer(() => move(trx, who)),
      })
    }

    admins.post(
      '/:user_id/deposit',
      { schema: { ...money, summary: 'Add money to a wallet (admin)', body: DepositBody } },
      async (request, reply) => {
        await underKey(request, reply, request.params.user_id, (trx, who) =>
          depositMoney(trx, deps, who, request.body),
        )
        return reply
      },
    )

    admins.post(
      '/:user_id/debit',
      {
        schema: {
          ...money,
          summary: 'Take money out of a wallet (admin)',
          description: 'More than the available balance is 409.',
          body: DebitBody,
        },
      },
      async (request, reply) => {
        await underKey(request, reply, request.params.user_id, (trx, who) =>
          debitMoney(trx, deps, who, request.body),
        )
        return reply
      },
    )
  })
}
