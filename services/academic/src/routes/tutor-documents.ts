// The documents of a tutor profile: the CV, ID card and certificates a tutor uploads for
// review. A sub-resource of `tutor-profiles`, registered under the same prefix.
//
//   method  path                                          who                  what
//   POST    /academic/tutor-profiles/{id}/documents       its tutor, admin     add files (multipart)
//   GET     /academic/tutor-profiles/{id}/documents       its tutor, admin     the list
//   GET     /academic/tutor-profiles/{id}/documents/{d}   its tutor, admin     the file itself, streamed
//   PATCH   /academic/tutor-profiles/{id}/documents/{d}   admin                review
//   DELETE  /academic/tutor-profiles/{id}/documents/{d}   its tutor, admin     remove (not the cv)
//
// To anyone but the profile's tutor and admins a document is 404, never 403.
import type { Readable } from 'node:stream'
import { type App, problems } from '@tms/http'
import { currentUser, requireAuthentication } from '@tms/jwt'
import Type from 'typebox'
import { attachmentDisposition } from '../storage/filename.ts'
import type { AcademicDeps } from '../use-cases/deps.ts'
import {
  addDocuments,
  listDocuments,
  openDocument,
  removeDocument,
  reviewDocument,
} from '../use-cases/tutor-profiles.ts'
import {
  DocumentList,
  DocumentParams,
  DocumentReviewBody,
  DocumentsForm,
  DocumentView,
  ProfileParams,
  ProfileView,
} from './schemas/tutor-profiles.ts'
import { formProblems, formReader, takeForms } from './tutor-profiles-form.ts'

const tags = ['tutor-profiles']

export async function tutorDocumentRoutes(app: App, { deps }: { deps: AcademicDeps }) {
  requireAuthentication(app)

  app.get(
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

  app.get(
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

  app.patch(
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

  app.delete(
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

  await app.register(async (forms: App) => {
    await takeForms(forms)

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
          formReader(request, deps),
        )
        return reply.code(201).send(view)
      },
    )
  })
}
