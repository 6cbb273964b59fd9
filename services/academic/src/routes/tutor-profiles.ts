import { type App, bearerSecurity, problems } from '@tms/http'
import { authenticateOptional, currentUser, requireAuthentication } from '@tms/jwt'
import Type from 'typebox'
import type { AcademicDeps } from '../use-cases/deps.ts'
import {
  browse,
  createProfile,
  deleteProfile,
  getProfile,
  updateProfile,
} from '../use-cases/tutor-profiles.ts'
import {
  BrowseQuery,
  CreateForm,
  ProfilePage,
  ProfileParams,
  ProfileView,
  UpdateBody,
} from './schemas/tutor-profiles.ts'
import { formProblems, formReader, takeForms } from './tutor-profiles-form.ts'

const tags = ['tutor-profiles']

export async function tutorProfileRoutes(app: App, { deps }: { deps: AcademicDeps }) {
  // Browsing and reading a profile: anonymous callers too (a bad token is still refused).
  await app.register(async (open: App) => {
    open.addHook('onRequest', authenticateOptional)
    const security = [...bearerSecurity, {}]
    // '' rather than '/': the collection is /academic/tutor-profiles, without a trailing slash.
    open.get(
      '',
      {
        schema: {
          summary: 'Browse tutor profiles',
          description:
            'Anonymous callers and students see approved profiles, tutors also their own, ' +
            'admins all. `subject` matches one subject exactly (any case), `q` text in the bio ' +
            'or the subjects. `sort`: `newest` (default), `rate_asc`, `rate_desc`; `cursor` is ' +
            'the `next_cursor` of the previous page, for the same sort.',
          tags,
          security,
          querystring: BrowseQuery,
          response: { 200: ProfilePage, ...problems(400, 401) },
        },
      },
      async (request) => browse(deps, request.user, request.query),
    )
    open.get(
      '/:profile_id',
      {
        schema: {
          summary: 'One tutor profile',
          description: 'Its documents and review are shown to its tutor and admins only.',
          tags,
          security,
          params: ProfileParams,
          response: { 200: ProfileView, ...problems(401, 404) },
        },
      },
      async (request) => getProfile(deps, request.user, request.params.profile_id),
    )
  })

  await app.register(async (signedIn: App) => {
    requireAuthentication(signedIn)

    signedIn.patch(
      '/:profile_id',
      {
        schema: {
          summary: 'Edit a profile; an admin also reviews it',
          description:
            'The tutor: `bio`, `subjects` (a list or comma-separated), `hourly_rate`; a change ' +
            'to a rejected profile resubmits it (`pending`). An admin also `status` ' +
            '(`approved`, which needs an approved cv, or `rejected`) with `review_note`; the ' +
            'decision is published as `academic.tutor-profile.approved` / `.rejected`.',
          tags,
          params: ProfileParams,
          body: UpdateBody,
          response: { 200: ProfileView, ...problems(400, 401, 403, 404, 409) },
        },
      },
      async (request) =>
        updateProfile(deps, currentUser(request), request.params.profile_id, request.body),
    )

    signedIn.delete(
      '/:profile_id',
      {
        schema: {
          summary: 'Delete a profile and its stored files',
          tags,
          params: ProfileParams,
          response: { 204: Type.Null(), ...problems(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await deleteProfile(deps, currentUser(request), request.params.profile_id)
        return reply.code(204).send(null)
      },
    )

    await signedIn.register(async (forms: App) => {
      await takeForms(forms)

      forms.post(
        '',
        {
          schema: {
            summary: 'Create the caller’s tutor profile, with its documents',
            description:
              'A tutor, once; an admin for the tutor named by `user_id`. Files: `cv` ' +
              '(required), `id_card`, `certificates` (up to 5): PDF, PNG, JPEG or WebP as their ' +
              'bytes say (not their name or declared type: 415), at most 10 MiB each (413). ' +
              'Unknown fields are 400.',
            tags,
            consumes: ['multipart/form-data'],
            body: CreateForm,
            response: { 201: ProfileView, ...formProblems },
          },
        },
        async (request, reply) => {
          const view = await createProfile(deps, currentUser(request), formReader(request, deps))
          return reply
            .code(201)
            .header('location', `/academic/tutor-profiles/${view.id}`)
            .send(view)
        },
      )
    })
  })
}
