// Reading a tutor-profile form (multipart/form-data) as it streams in: text fields are
// collected, each file goes through the upload pipeline into a spool file as it arrives (fields
// may come before, after or between files), and anything the form may not carry is refused the
// moment it shows up, before more of the body is read.
import multipart, { type Multipart } from '@fastify/multipart'
import { type App, HttpProblem, httpError, problems } from '@tms/http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  checkFileCount,
  type DocumentKind,
  documentKindOf,
  filesPerRequest,
  RuleViolation,
} from '../domain/profiles.ts'
import { documentFilename } from '../storage/filename.ts'
import { temporaryDirectory } from '../storage/store.ts'
import {
  DocumentTooLargeError,
  discardSpooled,
  MAX_DOCUMENT_BYTES,
  type SpooledUpload,
  spoolUpload,
  UnsupportedDocumentTypeError,
} from '../storage/upload.ts'
import type { AcademicDeps } from '../use-cases/deps.ts'

/**
 * Makes `forms` a scope of multipart forms, streamed by their handlers (formReader): the
 * parser only hands over parts, anything but multipart/form-data is 415.
 */
export async function takeForms(forms: App): Promise<void> {
  await forms.register(multipart)
  forms.addHook('preValidation', async (request) => {
    if (!request.isMultipart()) throw httpError(415, 'send the form as multipart/form-data')
    // The schema documents the form; what it holds is checked as it streams in.
    request.body = {}
  })
  forms.addHook('onSend', closeUnlessBodyRead)
}

/** What a form route may answer besides its success. */
export const formProblems = problems(400, 401, 403, 404, 409, 413, 415)

/** Reads the request's form, allowing these text fields: the use-cases' view of a form. */
export type FormReader = (textFields: readonly string[]) => Promise<ReceivedForm>

/** The FormReader of a request. */
export function formReader(request: FastifyRequest, deps: AcademicDeps): FormReader {
  const spoolDir = temporaryDirectory(deps.settings.dataDir)
  return (fields) => receiveForm(request, fields, spoolDir)
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

export interface ReceivedFile {
  kind: DocumentKind
  /** Safe, with the extension of the real type (storage/filename.ts). */
  filename: string
  upload: SpooledUpload
}

export interface ReceivedForm {
  fields: Record<string, string>
  files: ReceivedFile[]
}

const MAX_FILES = Object.values(filesPerRequest).reduce((a, b) => a + b, 0)

/** The parser's own limits, a step behind the form's rules (a refusal of theirs is a 413). */
export function multipartLimits(textFields: readonly string[]) {
  return {
    // One byte over the limit reaches the inspector, which refuses it.
    fileSize: MAX_DOCUMENT_BYTES + 1,
    // One more of each than allowed reaches the form's own checks, which name the field (400).
    files: MAX_FILES + 1,
    fields: textFields.length + 1,
    parts: MAX_FILES + textFields.length + 2,
    fieldNameSize: 64,
    fieldSize: 64 * 1024,
    headerPairs: 20,
  }
}

const unknownField = (field: string, detail: string) =>
  httpError(400, detail, { errors: [{ field, message: 'is not an accepted field' }] })

/**
 * Errors that say what they are pass on (ours, the parser's limits with their status, a system
 * error of the disk); the rest come from the parser reading a malformed body: 400.
 */
function asProblem(err: unknown): unknown {
  if (
    err instanceof HttpProblem ||
    err instanceof RuleViolation ||
    err instanceof DocumentTooLargeError ||
    err instanceof UnsupportedDocumentTypeError
  ) {
    return err
  }
  const e = err as { statusCode?: unknown; syscall?: unknown; message?: unknown }
  if (typeof e?.statusCode === 'number' || typeof e?.syscall === 'string') return err
  return httpError(400, `the multipart body is malformed: ${String(e?.message ?? err)}`)
}

/**
 * Reads the whole form. Text fields must be among `textFields`, file fields among the document
 * fields (cv, id_card, certificates), each within its count; anything else is 400, a file over
 * 10 MiB 413, a file that is not a PDF, PNG, JPEG or WebP 415. On any refusal the spool files
 * made so far are removed; on success the caller removes them (discardSpooled).
 */
export async function receiveForm(
  request: FastifyRequest,
  textFields: readonly string[],
  spoolDir: string,
): Promise<ReceivedForm> {
  if (!request.isMultipart()) {
    throw httpError(415, 'send the form as multipart/form-data')
  }
  const form: ReceivedForm = { fields: {}, files: [] }
  try {
    const parts: AsyncIterable<Multipart> = request.parts({ limits: multipartLimits(textFields) })
    for await (const part of parts) {
      const name = part.fieldname
      const kind = documentKindOf(name)
      if (part.type === 'field') {
        if (kind) throw unknownField(name, `${name} must be a file`)
        if (!textFields.includes(name)) throw unknownField(name, `unknown form field ${name}`)
        if (Object.hasOwn(form.fields, name)) {
          throw httpError(400, `${name} was sent twice`, {
            errors: [{ field: name, message: 'is sent more than once' }],
          })
        }
        if (part.valueTruncated || typeof part.value !== 'string') {
          throw httpError(400, `${name} is too long`, {
            errors: [{ field: name, message: 'is too long' }],
          })
        }
        form.fields[name] = part.value
        continue
      }
      if (!kind) {
        throw unknownField(
          name,
          textFields.includes(name) ? `${name} must be a text field` : `unknown file field ${name}`,
        )
      }
      checkFileCount(kind, form.files.filter((f) => f.kind === kind).length)
      const upload = await spoolUpload(part.file, spoolDir, {
        field: name,
        declaredType: part.mimetype,
        maxBytes: MAX_DOCUMENT_BYTES,
      })
      form.files.push({
        kind,
        filename: documentFilename(part.filename, upload.type, kind),
        upload,
      })
    }
  } catch (err) {
    await discardSpooled(form.files.map((f) => f.upload))
    throw asProblem(err)
  }
  return form
}
