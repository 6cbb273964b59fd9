// Every /auth endpoint of the SPEC.
import { setTimeout as sleep } from 'node:timers/promises'
import formbody from '@fastify/formbody'
import { normalizeEmail, normalizeUsername } from '@tms/contracts'
import { isDuplicateKey, newId, type Transaction, transaction } from '@tms/db'
import { type App, bearerSecurity, httpError } from '@tms/http'
import { authenticate, currentUser } from '@tms/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RouteDeps } from '../app.ts'
import type { AuthDatabase } from '../db/schema.ts'
import { isEmailLogin } from '../domain/account.ts'
import { checkOtp, generateOtp, NO_OTP, otpHash } from '../domain/otp.ts'
import { passwordProblem } from '../domain/password.ts'
import { refreshDecision, refreshTokenHash } from '../domain/tokens.ts'
import { userEmailChanged, userRegistered, userRoleChanged } from '../events/publish.ts'
import { enqueueMail } from '../mail.ts'
import { enforceAddressLimit, enforceRateLimits } from '../rate-limit.ts'
import { issueTokenPair, revokeAllRefreshTokens, revokeFamily } from '../tokens.ts'
import {
  Accepted,
  Account,
  EmailChangeBody,
  Jwks,
  LoginBody,
  NoContent,
  OtpRequestBody,
  PasswordChangeBody,
  problems,
  RefreshBody,
  ResetBody,
  RoleAnswer,
  SignupBody,
  TokenPair,
  UpdateRoleBody,
  Valid,
  VerifyQuery,
} from './schemas.ts'

function invalidField(field: string, message: string) {
  return httpError(400, 'the body is not valid', { errors: [{ field, message }] })
}

/** An id no account has (ids are UUIDs): what a lookup for nobody works with. */
const NO_ACCOUNT = '00000000-0000-0000-0000-000000000000'

const wrongCredentials = () => httpError(401, 'the username or password is wrong')
const badRefreshToken = () => httpError(401, 'the refresh token is not valid')
const badOtp = (field = 'otp') =>
  httpError(400, 'the code is wrong or has expired', {
    errors: [{ field, message: 'is wrong or has expired' }],
  })

/** Token answers must not be cached anywhere (RFC 6749 §5.1). */
function noStore(reply: FastifyReply) {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

export async function authRoutes(app: App, options: { deps: RouteDeps }) {
  const { db, bus, clock, keys, passwords, settings, rateLimits, throttle } = options.deps
  const tokenSettings = {
    issuer: settings.jwtIssuer,
    accessTokenTtlSeconds: settings.accessTokenTtlSeconds,
    refreshTokenTtlDays: settings.refreshTokenTtlDays,
  }

  /**
   * Checks a password as one attempt on the account: refused with 429 before any hashing when
   * the account's limit says so (see throttle.ts), counted as a failure when wrong.
   */
  async function checkPassword(
    account: string,
    address: string,
    password: string,
    phc: string | undefined,
  ): Promise<boolean> {
    const attempt = throttle.reserve(account, address)
    let ok: boolean
    try {
      ok = await passwords.check(password, phc)
    } catch (err) {
      attempt.abandoned()
      throw err
    }
    if (ok) attempt.succeeded()
    else attempt.failed()
    return ok
  }

  /** The account behind an access token, its current password checked as a guess would be. */
  async function accountWithPassword(request: FastifyRequest, currentPassword: string) {
    enforceAddressLimit(rateLimits.perAddress, 'password', request.ip)
    const user = await db
      .selectFrom('users')
      .select(['id', 'username', 'email', 'role', 'password_hash'])
      .where('id', '=', currentUser(request).id)
      .executeTakeFirst()
    if (!user) throw httpError(401, 'the account no longer exists')
    if (
      !(await checkPassword(`user:${user.id}`, request.ip, currentPassword, user.password_hash))
    ) {
      throw httpError(403, 'the current password is wrong')
    }
    return user
  }

  app.post(
    '/signup',
    {
      schema: {
        summary: 'Create an account (student or tutor)',
        tags: ['auth'],
        body: SignupBody,
        response: { 201: Account, ...problems(400, 409, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      enforceAddressLimit(rateLimits.signupPerAddress, 'signup', request.ip)
      const body = request.body
      const username = normalizeUsername(body.username)
      const email = normalizeEmail(body.email)
      const weak = passwordProblem(body.password, { username, email })
      if (weak) throw invalidField('password', weak)

      const taken = await db
        .selectFrom('users')
        .select(['username', 'email'])
        .where((eb) => eb.or([eb('username', '=', username), eb('email', '=', email)]))
        .execute()
      const conflict = () =>
        httpError(
          409,
          taken.some((u) => u.username === username)
            ? 'the username is taken'
            : 'the email belongs to another account',
        )
      if (taken.length > 0) throw conflict()

      const now = clock.now()
      const user = {
        id: newId(),
        username,
        email,
        password_hash: await passwords.hash(body.password),
        role: body.role,
        name: body.name ?? null,
        phone: body.phone ?? null,
        created_at: now,
        updated_at: now,
      }
      try {
        await transaction(db, async (trx) => {
          await trx.insertInto('users').values(user).execute()
          await userRegistered(bus, trx, user)
        })
      } catch (err) {
        // A concurrent signup took the name between the check and the insert.
        if (isDuplicateKey(err)) throw httpError(409, 'the username or email is taken')
        throw err
      }
      return reply.code(201).send({ id: user.id, username, email, role: user.role })
    },
  )

  // Only the login takes a form (the docs' Authorize button posts one): the form parser lives
  // in this route's own context, so every other route answers a form with 415.
  await app.register(async (withForms: App) => {
    await withForms.register(formbody)
    withForms.post(
      '/login',
      {
        schema: {
          summary: 'Log in with username (or email) and password',
          description:
            'JSON, or an OAuth2 password form (`application/x-www-form-urlencoded`; `grant_type`, `scope`, `client_id` and `client_secret` are accepted and ignored). Wrong guesses slow the account down (429 with Retry-After), see the README.',
          tags: ['auth'],
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: LoginBody,
          response: { 200: TokenPair, ...problems(400, 401, 415, 429, 503) },
        },
      },
      async (request, reply) => {
        const login = request.body.username.trim().toLowerCase()
        enforceAddressLimit(rateLimits.perAddress, 'password', request.ip)
        const user = await db
          .selectFrom('users')
          .select(['id', 'username', 'role', 'password_hash'])
          .where(isEmailLogin(login) ? 'email' : 'username', '=', login)
          .executeTakeFirst()
        // One count per account however it is named; an unknown login by what was typed. The
        // same hashing work whether or not the account exists, and the same answer.
        const ok = await checkPassword(
          user ? `user:${user.id}` : `login:${login}`,
          request.ip,
          request.body.password,
          user?.password_hash,
        )
        if (!user || !ok) throw wrongCredentials()

        const rehash = passwords.needsRehash(user.password_hash)
          ? await passwords.hash(request.body.password)
          : undefined
        const pair = await transaction(db, async (trx) => {
          if (rehash) {
            await trx
              .updateTable('users')
              .set({ password_hash: rehash })
              .where('id', '=', user.id)
              .where('password_hash', '=', user.password_hash)
              .execute()
          }
          return issueTokenPair(trx, keys, tokenSettings, user, clock.now())
        })
        noStore(reply)
        return pair
      },
    )
  })

  app.post(
    '/refresh',
    {
      schema: {
        summary: 'Exchange a refresh token for a new pair',
        description:
          'The presented token is spent. Presenting a spent token again revokes every token of its login.',
        tags: ['auth'],
        body: RefreshBody,
        response: { 200: TokenPair, ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const hash = refreshTokenHash(request.body.refresh_token)
      const outcome = await transaction(db, async (trx) => {
        const now = clock.now()
        const row = await trx
          .selectFrom('refresh_tokens')
          .innerJoin('users', 'users.id', 'refresh_tokens.user_id')
          .select([
            'refresh_tokens.id',
            'refresh_tokens.family_id',
            'refresh_tokens.expires_at',
            'refresh_tokens.spent_at',
            'refresh_tokens.revoked_at',
            'users.id as user_id',
            'users.username',
            'users.role',
          ])
          .where('refresh_tokens.token_hash', '=', hash)
          .forUpdate()
          .executeTakeFirst()
        const decision = refreshDecision(row, now)
        if (!row || decision === 'refuse') return { kind: 'refused' as const }
        if (decision === 'reuse') {
          await revokeFamily(trx, row.family_id, now)
          return { kind: 'reused' as const, userId: row.user_id }
        }
        await trx
          .updateTable('refresh_tokens')
          .set({ spent_at: now })
          .where('id', '=', row.id)
          .execute()
        const user = { id: row.user_id, username: row.username, role: row.role }
        const pair = await issueTokenPair(trx, keys, tokenSettings, user, now, row.family_id)
        return { kind: 'rotated' as const, pair }
      })
      if (outcome.kind === 'reused') {
        request.log.warn({ user_id: outcome.userId }, 'spent refresh token reused; family revoked')
      }
      if (outcome.kind !== 'rotated') throw badRefreshToken()
      noStore(reply)
      return outcome.pair
    },
  )

  app.post(
    '/logout',
    {
      schema: {
        summary: 'Revoke a refresh token (and every token rotated from the same login)',
        tags: ['auth'],
        body: RefreshBody,
        response: { 204: NoContent, ...problems(400) },
      },
    },
    async (request, reply) => {
      const hash = refreshTokenHash(request.body.refresh_token)
      await transaction(db, async (trx) => {
        const row = await trx
          .selectFrom('refresh_tokens')
          .select('family_id')
          .where('token_hash', '=', hash)
          .executeTakeFirst()
        if (row) await revokeFamily(trx, row.family_id, clock.now())
      })
      // The same answer for an unknown token: logging out twice is not an error.
      return reply.code(204).send(null)
    },
  )

  app.patch(
    '/password',
    {
      onRequest: authenticate,
      schema: {
        summary: 'Change the password',
        description: 'Every refresh token of the account is revoked.',
        tags: ['auth'],
        security: bearerSecurity,
        body: PasswordChangeBody,
        response: { 204: NoContent, ...problems(400, 401, 403, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const user = await accountWithPassword(request, request.body.current_password)
      const weak = passwordProblem(request.body.new_password, user)
      if (weak) throw invalidField('new_password', weak)
      const hash = await passwords.hash(request.body.new_password)
      await transaction(db, async (trx) => {
        const now = clock.now()
        await trx
          .updateTable('users')
          .set({ password_hash: hash, updated_at: now })
          .where('id', '=', user.id)
          .execute()
        await revokeAllRefreshTokens(trx, user.id, now)
        await trx.deleteFrom('password_reset_otps').where('user_id', '=', user.id).execute()
      })
      return reply.code(204).send(null)
    },
  )

  app.patch(
    '/email',
    {
      onRequest: authenticate,
      schema: {
        summary: 'Change the email (the login and the reset channel)',
        tags: ['auth'],
        security: bearerSecurity,
        body: EmailChangeBody,
        response: { 200: Account, ...problems(400, 401, 403, 409, 415, 429, 503) },
      },
    },
    async (request) => {
      const newEmail = normalizeEmail(request.body.new_email)
      const user = await accountWithPassword(request, request.body.current_password)
      const answer = { id: user.id, username: user.username, email: newEmail, role: user.role }
      if (newEmail === user.email) return answer
      const taken = await db
        .selectFrom('users')
        .select('id')
        .where('email', '=', newEmail)
        .executeTakeFirst()
      if (taken) throw httpError(409, 'the email belongs to another account')
      try {
        await transaction(db, async (trx) => {
          const now = clock.now()
          await trx
            .updateTable('users')
            .set({ email: newEmail, updated_at: now })
            .where('id', '=', user.id)
            .execute()
          // A code mailed to the old address must not outlive the change.
          await trx.deleteFrom('password_reset_otps').where('user_id', '=', user.id).execute()
          await userEmailChanged(bus, trx, { user_id: user.id, email: newEmail })
          await enqueueMail(
            trx,
            {
              to: user.email,
              subject: 'Your email address was changed',
              text: `The email address of your account ${user.username} was changed to ${newEmail}. If you did not do this, contact support at once.`,
            },
            now,
          )
        })
      } catch (err) {
        if (isDuplicateKey(err)) throw httpError(409, 'the email belongs to another account')
        throw err
      }
      return answer
    },
  )

  app.post(
    '/forgot-password/request-otp',
    {
      schema: {
        summary: 'Mail a password-reset code',
        description:
          'The same 202 whether or not the email belongs to an account. The code has 6 digits, is valid 10 minutes, single use, and dies after 5 wrong tries; a new request replaces it.',
        tags: ['password reset'],
        body: OtpRequestBody,
        response: { 202: Accepted, ...problems(400, 429) },
      },
    },
    async (request, reply) => {
      // The answer waits until at least otpRequestMinMs after the start: the work differs
      // between a known and an unknown email, the time to answer must not.
      const answerNotBefore = performance.now() + settings.otpRequestMinMs
      const email = normalizeEmail(request.body.email)
      enforceRateLimits(rateLimits, 'otp', email, request.ip)
      const user = await db
        .selectFrom('users')
        .select(['id', 'username'])
        .where('email', '=', email)
        .executeTakeFirst()
      if (user) {
        const code = generateOtp()
        await transaction(db, async (trx) => {
          const now = clock.now()
          const row = {
            code_hash: otpHash(settings.otpSecret, user.id, code),
            expires_at: new Date(now.getTime() + settings.otpTtlSeconds * 1000),
            failed_attempts: 0,
            created_at: now,
          }
          await trx
            .insertInto('password_reset_otps')
            .values({ user_id: user.id, ...row })
            .onDuplicateKeyUpdate(row)
            .execute()
          const minutes = Math.round(settings.otpTtlSeconds / 60)
          await enqueueMail(
            trx,
            {
              to: email,
              subject: 'Your password reset code',
              text: `Your password reset code for ${user.username} is ${code}. It is valid for ${minutes} minutes and can be used once. If you did not ask for it, ignore this message.`,
            },
            now,
          )
        })
      }
      const early = answerNotBefore - performance.now()
      if (early > 0) await sleep(early)
      return reply.code(202).send({
        detail: 'if the email belongs to an account, a reset code has been sent to it',
      })
    },
  )

  /** Checks a code, counting a wrong one; `spend` also runs in the transaction when valid. */
  async function withValidOtp<T>(
    email: string,
    code: string,
    spend: (userId: string, trx: Transaction<AuthDatabase>) => Promise<T>,
  ): Promise<T> {
    const outcome = await transaction(db, async (trx) => {
      const row = await trx
        .selectFrom('password_reset_otps')
        .innerJoin('users', 'users.id', 'password_reset_otps.user_id')
        .select([
          'password_reset_otps.user_id',
          'password_reset_otps.code_hash',
          'password_reset_otps.expires_at',
          'password_reset_otps.failed_attempts',
        ])
        .where('users.email', '=', email)
        .forUpdate()
        .executeTakeFirst()
      // The same work whether or not the email has a live code, so the time to answer does not
      // tell: one locking SELECT, one HMAC, one UPDATE (which counts a wrong try, or changes
      // nothing: for no row, or by adding 0), then the commit.
      const userId = row?.user_id ?? NO_ACCOUNT
      const check = checkOtp(row ?? NO_OTP, settings.otpSecret, userId, code, clock.now())
      const wrong = row !== undefined && check === 'wrong'
      await trx
        .updateTable('password_reset_otps')
        .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', wrong ? 1 : 0) }))
        .where('user_id', '=', userId)
        .execute()
      if (!row || check !== 'valid') return { valid: false as const }
      return { valid: true as const, result: await spend(row.user_id, trx) }
    })
    if (!outcome.valid) throw badOtp()
    return outcome.result
  }

  app.get(
    '/verify',
    {
      schema: {
        summary: 'Check a password-reset code without spending it',
        description: 'A wrong code counts toward the 5 tries the code has.',
        tags: ['password reset'],
        querystring: VerifyQuery,
        response: { 200: Valid, ...problems(400, 429) },
      },
    },
    async (request) => {
      const email = normalizeEmail(request.query.email)
      enforceRateLimits(rateLimits, 'verify', email, request.ip)
      await withValidOtp(email, request.query.otp, async () => undefined)
      return { valid: true as const }
    },
  )

  app.post(
    '/forgot-password/reset',
    {
      schema: {
        summary: 'Set a new password with a reset code',
        description: 'The code is spent and every refresh token of the account is revoked.',
        tags: ['password reset'],
        body: ResetBody,
        response: { 204: NoContent, ...problems(400, 429) },
      },
    },
    async (request, reply) => {
      const email = normalizeEmail(request.body.email)
      enforceRateLimits(rateLimits, 'reset', email, request.ip)
      // Hashed before the code is checked, so a wrong code costs the same time as a right one.
      const hash = await passwords.hash(request.body.new_password)
      const weak = await withValidOtp(email, request.body.otp, async (userId, trx) => {
        const user = await trx
          .selectFrom('users')
          .select(['username', 'email'])
          .where('id', '=', userId)
          .executeTakeFirstOrThrow()
        const problem = passwordProblem(request.body.new_password, user)
        if (problem) return problem
        const now = clock.now()
        await trx
          .updateTable('users')
          .set({ password_hash: hash, updated_at: now })
          .where('id', '=', userId)
          .execute()
        await trx.deleteFrom('password_reset_otps').where('user_id', '=', userId).execute()
        await revokeAllRefreshTokens(trx, userId, now)
        return undefined
      })
      if (weak) throw invalidField('new_password', weak)
      return reply.code(204).send(null)
    },
  )

  app.patch(
    '/update-role',
    {
      onRequest: authenticate,
      schema: {
        summary: "Change an account's role (admin)",
        description:
          "The caller must be an admin now, in this service's records: an access token issued before a demotion does not do.",
        tags: ['auth'],
        security: bearerSecurity,
        body: UpdateRoleBody,
        response: { 200: RoleAnswer, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => {
      const caller = currentUser(request)
      const { user_id: userId, role } = request.body
      const outcome = await transaction(db, async (trx) => {
        // The caller's role as it is now, not as its token says: a token outlives a demotion
        // by up to its lifetime. Both rows are locked in one order, so a demotion and a
        // promotion by the one demoted cannot interleave, and two admins changing each other
        // at once do not wait on each other in a cycle.
        const rows = await trx
          .selectFrom('users')
          .select(['id', 'role'])
          .where('id', 'in', [caller.id, userId])
          .orderBy('id')
          .forUpdate()
          .execute()
        if (rows.find((r) => r.id === caller.id)?.role !== 'admin') return 'not admin' as const
        // Keeps the last admin from locking everyone out by accident.
        if (userId === caller.id) return 'own role' as const
        const user = rows.find((r) => r.id === userId)
        if (!user) return 'no account' as const
        if (user.role !== role) {
          await trx
            .updateTable('users')
            .set({ role, updated_at: clock.now() })
            .where('id', '=', userId)
            .execute()
          await userRoleChanged(bus, trx, { user_id: userId, role, changed_by: caller.id })
        }
        return 'done' as const
      })
      if (outcome === 'not admin') throw httpError(403, 'this action is for admin accounts')
      if (outcome === 'own role') throw httpError(409, 'an admin cannot change their own role')
      if (outcome === 'no account') throw httpError(404, 'no such account')
      return { id: userId, role }
    },
  )

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        summary: 'Public keys that verify access tokens',
        tags: ['auth'],
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return keys.jwks
    },
  )
}
