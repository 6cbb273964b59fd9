// The `user` resource: profiles (a copy of auth's accounts) and their balances.
//
//   method  path                           who            what
//   GET     /user/me                       any caller     the caller's profile and balances
//   GET     /user/by-id/{user_id}          self or admin  a profile (404 to anyone else)
//   GET     /user/by-email/{email}         self or admin  the same, by email (any case)
//   GET     /user/by-username/{username}   self or admin  the same, by username (any case)
//   PATCH   /user/{user_id}/update         self or admin  name and phone only
//   POST    /user/create                   admin          repair a profile that never arrived
import { type App, problems } from '@tms/http'
import { currentUser } from '@tms/jwt'
import type { WalletDeps } from '../use-cases/deps.ts'
import { createProfile, lookUpUser, me, updateProfile } from '../use-cases/user.ts'
import { onlyAdmins } from './admins.ts'
import {
  CreateBody,
  EmailParams,
  UpdateBody,
  UserIdParams,
  UsernameParams,
  UserView,
} from './schemas/user.ts'

export async function userRoutes(app: App, { deps }: { deps: WalletDeps }) {
  const tags = ['user']
  app.get(
    '/me',
    {
      schema: {
        summary: 'The caller’s profile and balances',
        tags,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) => me(deps, currentUser(request)),
  )

  app.get(
    '/by-id/:user_id',
    {
      schema: {
        summary: 'A user by id (self or admin)',
        tags,
        params: UserIdParams,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) => lookUpUser(deps, currentUser(request), 'user_id', request.params.user_id),
  )

  app.get(
    '/by-email/:email',
    {
      schema: {
        summary: 'A user by email (self or admin)',
        tags,
        params: EmailParams,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) => lookUpUser(deps, currentUser(request), 'email', request.params.email),
  )

  app.get(
    '/by-username/:username',
    {
      schema: {
        summary: 'A user by username (self or admin)',
        tags,
        params: UsernameParams,
        response: { 200: UserView, ...problems(401, 404) },
      },
    },
    async (request) => lookUpUser(deps, currentUser(request), 'username', request.params.username),
  )

  app.patch(
    '/:user_id/update',
    {
      schema: {
        summary: 'Change name or phone (self or admin)',
        description: 'Only `name` and `phone`; the email changes through `PATCH /auth/email`.',
        tags,
        params: UserIdParams,
        body: UpdateBody,
        response: { 200: UserView, ...problems(400, 401, 404) },
      },
    },
    async (request) =>
      updateProfile(deps, currentUser(request), request.params.user_id, request.body),
  )

  await app.register(async (admins: App) => {
    admins.addHook('onRequest', onlyAdmins(deps))
    admins.post(
      '/create',
      {
        schema: {
          summary: 'Create a missing profile (admin repair tool)',
          description:
            'For an account whose profile never arrived. The role starts as `student` and ' +
            'follows the auth service’s events. 201 when created, 200 when the same profile ' +
            'exists, 409 when it conflicts with an existing one.',
          tags,
          body: CreateBody,
          response: { 200: UserView, 201: UserView, ...problems(400, 401, 403, 409) },
        },
      },
      async (request, reply) => {
        const { created, profile } = await createProfile(deps, request.body)
        return reply.code(created ? 201 : 200).send(profile)
      },
    )
  })
}
