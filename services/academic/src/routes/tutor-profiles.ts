// The `tutor-profiles` resource: tutors' profiles, their verification documents, and reviews.
//
//   method  path                                          who                  what
//   GET     /academic/tutor-profiles                      anyone               browse: filters, cursor paging
//   POST    /academic/tutor-profiles                      tutor, admin         create, with the files (multipart)
//   GET     /academic/tutor-profiles/{id}                 who may see it       one profile
//   PATCH   /academic/tutor-profiles/{id}                 its tutor, admin     edit; an admin also reviews
//   DELETE  /academic/tutor-profiles/{id}                 its tutor, admin     with its stored files
//   POST    /academic/tutor-profiles/{id}/documents       its tutor, admin     add files (multipart)
//   GET     /academic/tutor-profiles/{id}/documents       its tutor, admin     the list
//   GET     /academic/tutor-profiles/{id}/documents/{d}   its tutor, admin     the file itself, streamed
//   PATCH   /academic/tutor-profiles/{id}/documents/{d}   admin                review
//   DELETE  /academic/tutor-profiles/{id}/documents/{d}   its tutor, admin     remove (not the cv)
//
// "Who may see it": anonymous callers and students approved profiles, tutors also their own,
// admins all; to anyone else a profile or document is 404, never 403.
import type { Readable } from 'node:stream'
import multipart from '@fastify/multipart'
import { type App, bearerSecurity, httpError, problems } from '@tms/http'
import { authenticateOptional, currentUser, requireAuthentication } from '@tms/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { attachmentDisposition } from '../storage/filename.ts'
import { temporaryDirectory } from '../storage/store.ts'
import type { AcademicDeps } from '../use-cases/deps.ts'
import {
  addDocuments,
  browse,
  createProfile,
  deleteProfile,
  type FormReader,
  getProfile,
  listDocuments,
  openDocument,
  removeDocument,
  reviewDocument,
  updateProfile,
} from '../use-cases/tutor-profiles.ts'
import {
  BrowseQuery,
  CreateForm,
  DocumentList,
  DocumentParams,
  DocumentReviewBody,
  DocumentsForm,
  DocumentView,
  ProfilePage,
  ProfileParams,
  ProfileView,
  UpdateBody,
} from './schemas/tutor-profiles.ts'
import { receiveForm } from './tutor-profiles-form.ts'

const tags = ['tutor-profiles']

export async function tutorProfileRoutes(app: App, { deps }: { deps: AcademicDeps }) {
  const spoolDir = temporaryDirectory(deps.settings.dataDir)
  const formOf =
    (request: FastifyRequest): FormReader =>
    (fields) =>
      receiveForm(request, fields, spoolDir)

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

    signedIn.get(
      '/:profile_id/documents',
      {
        schema: {
          summary: 'A profile’s documents (its tutor and admins)',
          tags,
          params: ProfileParams,
          response: { 200: DocumentList, ...problems(401, 404) },
        },
      },
      async (request) => listDocuments(deps, currentUser(request), request.params.profile_id),
    )

    signedIn.get(
      '/:profile_id/documents/:document_id',
      {
        schema: {
          summary: 'A document’s file, streamed (its tutor and admins)',
          description:
            'With its recorded type, `X-Content-Type-Options: nosniff` and ' +
            '`Content-Disposition: attachment`; 404 to anyone else.',
          tags,
          params: DocumentParams,
          response: {
            // The file itself: a stream, sent as it is (never serialised).
            200: Type.Unsafe<Readable>({
              type: 'string',
              format: 'binary',
              description: 'the file',
            }),
            ...problems(401, 404),
          },
        },
      },
      async (request, reply) => {
        const { profile_id, document_id } = request.params
        const { document, stream } = await openDocument(
          deps,
          currentUser(request),
          profile_id,
          document_id,
        )
        return reply
          .header('content-type', document.content_type)
          .header('content-length', document.size)
          .header('content-disposition', attachmentDisposition(document.filename))
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('cache-control', 'private, no-store')
          .send(stream)
      },
    )

    signedIn.patch(
      '/:profile_id/documents/:document_id',
      {
        schema: {
          summary: 'Review a document (admin)',
          tags,
          params: DocumentParams,
          body: DocumentReviewBody,
          response: { 200: DocumentView, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { profile_id, document_id } = request.params
        return reviewDocument(deps, currentUser(request), profile_id, document_id, request.body)
      },
    )

    signedIn.delete(
      '/:profile_id/documents/:document_id',
      {
        schema: {
          summary: 'Remove a document and its stored file (not the cv: replace it)',
          tags,
          params: DocumentParams,
          response: { 204: Type.Null(), ...problems(401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        const { profile_id, document_id } = request.params
        await removeDocument(deps, currentUser(request), profile_id, document_id)
        return reply.code(204).send(null)
      },
    )

    // The forms: streamed by the handlers, so the parser only hands over parts.
    await signedIn.register(async (forms: App) => {
      await forms.register(multipart)
      forms.addHook('preValidation', async (request) => {
        if (!request.isMultipart()) throw httpError(415, 'send the form as multipart/form-data')
        // The schema documents the form; what it holds is checked as it streams in.
        request.body = {}
      })
      forms.addHook('onSend', closeUnlessBodyRead)
      const formProblems = problems(400, 401, 403, 404, 409, 413, 415)

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
          const view = await createProfile(deps, currentUser(request), formOf(request))
          return reply
            .code(201)
            .header('location', `/academic/tutor-profiles/${view.id}`)
            .send(view)
        },
      )

      forms.post(
        '/:profile_id/documents',
        {
          schema: {
            summary: 'Add documents to a profile',
            description:
              'The same file fields as the create form; a new `cv` or `id_card` replaces the ' +
              'current one (its file is deleted). At most 5 certificates in all (409).',
            tags,
            consumes: ['multipart/form-data'],
            params: ProfileParams,
            body: DocumentsForm,
            response: { 201: ProfileView, ...formProblems },
          },
        },
        async (request, reply) => {
          const view = await addDocuments(
            deps,
            currentUser(request),
            request.params.profile_id,
            formOf(request),
          )
          return reply.code(201).send(view)
        },
      )
    })
  })
}

/**
 * A form refused before its body was read to the end (a file over the limit, an unknown
 * field): the answer closes the connection, rather than leave the rest of the upload unread on
 * a kept-alive one.
 */
async function closeUnlessBodyRead(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (!request.raw.complete) reply.header('connection', 'close')
  return payload
}
