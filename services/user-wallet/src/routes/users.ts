// Every /user endpoint of the SPEC.
import { normalizeEmail, normalizeUsername } from '@tms/contracts'
import { isDuplicateKey, transaction } from '@tms/db'
import { type App, bearerSecurity, httpError, problemType } from '@tms/http'
import { IdempotencyKeyHeaders, refusal, replyIdempotent } from '@tms/idempotency'
import { type AccessTokenUser, authenticate, currentUser } from '@tms/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isAdmin, requireAdmin } from '../access.ts'
import type { RouteDeps } from '../app.ts'
import type { ProfileTable } from '../db/schema.ts'
import { debit, deposit, InsufficientFundsError, InvalidAmountError } from '../domain/ledger.ts'
import { ensureWallet, post, walletBalance } from '../ledger.ts'
import { findProfile, userView } from '../profiles.ts'
import {
  CreateBody,
  DebitBody,
  DepositBody,
  EmailParams,
  LedgerPage,
  ListQuery,
  MovementAnswer,
  problems,
  UpdateBody,
  UserIdParams,
  UsernameParams,
  UserView,
} from './schemas.ts'

const notFound = () => httpError(404, 'no such user')

export async function userRoutes(app: App, options: { deps: RouteDeps }) {
  const { db, settings, clock } = options.deps
  const currency = settings.currency
  const auth = { onRequest: authenticate, schema: { security: bearerSecurity } }
  const admin = { onRequest: requireAdmin(db) }

  /** Another user's resource is 404 to everyone but an admin: its existence is not revealed. */
  async function mayAccess(caller: AccessTokenUser, userId: string): Promise<boolean> {
    return caller.id === userId || (await isAdmin(db, caller))
  }

  async function visibleProfile(request: FastifyRequest, found: ProfileTable | undefined) {
    if (!found || !(await mayAccess(currentUser(request), found.user_id))) throw notFound()
    return userView(db, found, currency)
  }

  app.get(
    '/me',
    {
      onRequest: auth.onRequest,
      schema: {
        summary: 'The caller’s profile and balances',
        tags: ['user'],
        security: bearerSecurity,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) => {
      const profile = await findProfile(db, 'user_id', currentUser(request).id)
      if (!profile)
        throw httpError(404, 'the profile does not exist yet; it follows signup shortly')
      return userView(db, profile, currency)
    },
  )

  app.get(
    '/by-id/:user_id',
    {
      onRequest: auth.onRequest,
      schema: {
        summary: 'A user by id (self or admin)',
        tags: ['user'],
        security: bearerSecurity,
        params: UserIdParams,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) =>
      visibleProfile(request, await findProfile(db, 'user_id', request.params.user_id)),
  )

  app.get(
    '/by-email/:email',
    {
      onRequest: auth.onRequest,
      schema: {
        summary: 'A user by email (self or admin)',
        tags: ['user'],
        security: bearerSecurity,
        params: EmailParams,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) =>
      visibleProfile(request, await findProfile(db, 'email', normalizeEmail(request.params.email))),
  )

  app.get(
    '/by-username/:username',
    {
      onRequest: auth.onRequest,
      schema: {
        summary: 'A user by username (self or admin)',
        tags: ['user'],
        security: bearerSecurity,
        params: UsernameParams,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) =>
      visibleProfile(
        request,
        await findProfile(db, 'username', normalizeUsername(request.params.username)),
      ),
  )

  app.patch(
    '/:user_id/update',
    {
      onRequest: auth.onRequest,
      schema: {
        summary: 'Change name or phone (self or admin)',
        description: 'Only `name` and `phone`; the email changes through `PATCH /auth/email`.',
        tags: ['user'],
        security: bearerSecurity,
        params: UserIdParams,
        body: UpdateBody,
        response: { 200: UserView, ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const userId = request.params.user_id
      if (!(await mayAccess(currentUser(request), userId))) throw notFound()
      const changes: { name?: string | null; phone?: string | null } = {}
      if (request.body.name !== undefined) changes.name = request.body.name
      if (request.body.phone !== undefined) changes.phone = request.body.phone
      if (Object.keys(changes).length > 0) {
        await db
          .updateTable('profile')
          .set({ ...changes, updated_at: new Date() })
          .where('user_id', '=', userId)
          .execute()
      }
      const profile = await findProfile(db, 'user_id', userId)
      if (!profile) throw notFound()
      return userView(db, profile, currency)
    },
  )

  app.post(
    '/create',
    {
      onRequest: admin.onRequest,
      schema: {
        summary: 'Create a missing profile (admin repair tool)',
        description:
          'For an account whose profile never arrived. The role starts as `student` and ' +
          'follows the auth service’s events. 201 when created, 200 when the same profile ' +
          'exists, 409 when it conflicts with an existing one.',
        tags: ['user'],
        security: bearerSecurity,
        body: CreateBody,
        response: { 200: UserView, 201: UserView, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const body = request.body
      const wanted = {
        user_id: body.user_id,
        username: normalizeUsername(body.username),
        email: normalizeEmail(body.email),
        name: body.name ?? null,
        phone: body.phone ?? null,
      }
      const conflict = () => httpError(409, 'a different profile exists for this id or username')
      try {
        const created = await transaction(db, async (trx) => {
          const existing = await trx
            .selectFrom('profile')
            .selectAll()
            .where('user_id', '=', wanted.user_id)
            .forUpdate()
            .executeTakeFirst()
          if (existing) {
            const same =
              existing.username === wanted.username &&
              existing.email === wanted.email &&
              existing.name === wanted.name &&
              existing.phone === wanted.phone
            if (!same) throw conflict()
            return false
          }
          const now = new Date()
          await trx
            .insertInto('profile')
            .values({ ...wanted, role: 'student', created_at: now, updated_at: now })
            .execute()
          await ensureWallet(trx, wanted.user_id)
          return true
        })
        const profile = await findProfile(db, 'user_id', wanted.user_id)
        if (!profile) throw conflict()
        return reply.code(created ? 201 : 200).send(await userView(db, profile, currency))
      } catch (err) {
        if (isDuplicateKey(err)) throw conflict()
        throw err
      }
    },
  )

  /** A deposit or debit under the request's Idempotency-Key; refusals of funds are stored. */
  function moveMoney(
    request: FastifyRequest,
    reply: FastifyReply,
    userId: string,
    build: () => ReturnType<typeof deposit>,
    meta: { reason?: string; reference?: string },
  ) {
    const caller = currentUser(request)
    return replyIdempotent(request, reply, {
      db,
      caller: caller.id,
      clock,
      ...options.deps.idempotency,
      async effect(trx) {
        const profile = await trx
          .selectFrom('profile')
          .select('user_id')
          .where('user_id', '=', userId)
          .executeTakeFirst()
        if (!profile) throw notFound()
        try {
          const posted = await post(trx, build(), {
            actorId: caller.id,
            reason: meta.reason ?? null,
            reference: meta.reference ?? null,
            now: clock.now(),
          })
          const balances = await walletBalance(trx, userId)
          return { status: 200, body: { ...balances, transaction_id: posted.transactionId } }
        } catch (err) {
          // Definitive refusals: stored with the key, so a retry answers the same.
          if (err instanceof InsufficientFundsError) {
            return refusal(
              409,
              'the available balance does not cover this amount',
              problemType('insufficient-funds'),
            )
          }
          if (err instanceof InvalidAmountError) {
            return refusal(409, `the movement cannot be made: ${err.message}`)
          }
          throw err
        }
      },
    })
  }

  app.post(
    '/:user_id/deposit',
    {
      onRequest: admin.onRequest,
      schema: {
        summary: 'Add money to a wallet (admin)',
        tags: ['wallet'],
        security: bearerSecurity,
        params: UserIdParams,
        headers: IdempotencyKeyHeaders,
        body: DepositBody,
        response: { 200: MovementAnswer, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { amount, reference } = request.body
      if (request.body.currency !== undefined && request.body.currency.toLowerCase() !== currency) {
        throw httpError(400, `this deployment's currency is ${currency}`, {
          errors: [{ field: 'currency', message: `must be ${currency}` }],
        })
      }
      const userId = request.params.user_id
      return moveMoney(request, reply, userId, () => deposit(userId, amount), {
        reference,
        reason: request.body.reason,
      })
    },
  )

  app.post(
    '/:user_id/debit',
    {
      onRequest: admin.onRequest,
      schema: {
        summary: 'Take money out of a wallet (admin)',
        description: 'More than the available balance is 409.',
        tags: ['wallet'],
        security: bearerSecurity,
        params: UserIdParams,
        headers: IdempotencyKeyHeaders,
        body: DebitBody,
        response: { 200: MovementAnswer, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { amount, reason, reference } = request.body
      const userId = request.params.user_id
      return moveMoney(request, reply, userId, () => debit(userId, amount), { reason, reference })
    },
  )

  app.get(
    '/:user_id/transactions',
    {
      onRequest: auth.onRequest,
      schema: {
        summary: 'The wallet’s ledger entries, newest first (self or admin)',
        tags: ['wallet'],
        security: bearerSecurity,
        params: UserIdParams,
        querystring: ListQuery,
        response: { 200: LedgerPage, ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const userId = request.params.user_id
      const caller = currentUser(request)
      const callerIsAdmin = await isAdmin(db, caller)
      if (caller.id !== userId && !callerIsAdmin) throw notFound()
      const profile = await findProfile(db, 'user_id', userId)
      if (!profile) throw notFound()
      const { limit, cursor } = request.query
      let query = db
        .selectFrom('entry')
        .innerJoin('account', 'account.id', 'entry.account_id')
        .innerJoin('ledger_transaction as tx', 'tx.id', 'entry.transaction_id')
        .select([
          'entry.id',
          'entry.transaction_id',
          'entry.amount',
          'account.kind as account',
          'tx.kind',
          'tx.session_id',
          'tx.actor_id',
          'tx.reason',
          'tx.reference',
          'tx.created_at',
        ])
        .where('account.user_id', '=', userId)
        .orderBy('entry.id', 'desc')
        .limit(limit + 1)
      if (cursor) query = query.where('entry.id', '<', cursor)
      const rows = await query.execute()
      const page = rows.slice(0, limit)
      return {
        // Which admin moved the money is the admins' business, not the wallet owner's.
        items: page.map(({ actor_id, ...r }) => ({
          ...r,
          ...(callerIsAdmin ? { actor_id } : {}),
          amount: Number(r.amount),
          created_at: r.created_at.toISOString(),
        })),
        next_cursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
      }
    },
  )
}
