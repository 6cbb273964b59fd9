// The upload pipeline of one file: its bytes pass once through an inspector that decides the
// type from the first bytes (before anything is written), hashes (SHA-256) and counts them, and
// stops the stream past the size limit; they land in a spool file on the local disk, from which
// the store takes them (a rename for the local driver, one PUT of known length for S3). The
// request is read only as fast as the disk takes the bytes (pipeline's backpressure), so an
// upload holds about one chunk in memory whatever its size.
import { createHash, type Hash } from 'node:crypto'
import { mkdir, open, rm } from 'node:fs/promises'
import path from 'node:path'
import { type Readable, Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { newId } from '@tms/db'
import { type DocumentType, declaredTypeAgrees, detectType, SNIFF_BYTES } from './file-types.ts'

/** The largest document accepted: 10 MiB. */
export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

export interface InspectOptions {
  /** The form field the file came in, named in refusals. */
  field: string
  /** The Content-Type the client declared for the part. */
  declaredType: string | undefined
  maxBytes: number
}

/** A file over the size limit (413). */
export class DocumentTooLargeError extends Error {
  override name = 'DocumentTooLargeError'
  readonly field: string
  readonly maxBytes: number
  constructor(field: string, maxBytes: number) {
    super(`a document may be at most ${maxBytes / (1024 * 1024)} MiB`)
    this.field = field
    this.maxBytes = maxBytes
  }
}

/** A file that is not a PDF, PNG, JPEG or WebP, or not what it was declared as (415). */
export class UnsupportedDocumentTypeError extends Error {
  override name = 'UnsupportedDocumentTypeError'
  readonly field: string
  readonly reason: string
  constructor(field: string, reason: string) {
    super(`documents must be PDF, PNG, JPEG or WebP files; ${field} ${reason}`)
    this.field = field
    this.reason = reason
  }
}

/** Passes a file's bytes through once: type from the first bytes, SHA-256, size, limit. */
export class UploadInspector extends Transform {
  size = 0
  type: DocumentType | undefined
  private readonly hash: Hash = createHash('sha256')
  private head: Buffer[] = []
  private headBytes = 0
  private readonly options: InspectOptions

  constructor(options: InspectOptions) {
    super()
    this.options = options
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.size += chunk.length
    if (this.size > this.options.maxBytes) {
      callback(new DocumentTooLargeError(this.options.field, this.options.maxBytes))
      return
    }
    this.hash.update(chunk)
    if (this.type) {
      callback(null, chunk)
      return
    }
    // Held back (at most SNIFF_BYTES plus one chunk) until the type is known.
    this.head.push(chunk)
    this.headBytes += chunk.length
    if (this.headBytes < SNIFF_BYTES) callback()
    else this.decide(callback)
  }

  override _flush(callback: TransformCallback) {
    if (this.type) callback()
    else this.decide(callback)
  }

  private decide(callback: TransformCallback) {
    const head = Buffer.concat(this.head)
    this.head = []
    const type = detectType(head)
    if (!type) {
      const why = head.length === 0 ? 'is empty' : 'is not a PDF, PNG, JPEG or WebP file'
      callback(new UnsupportedDocumentTypeError(this.options.field, why))
      return
    }
    if (!declaredTypeAgrees(this.options.declaredType, type)) {
      const declared = JSON.stringify(this.options.declaredType)
      callback(
        new UnsupportedDocumentTypeError(
          this.options.field,
          `is declared as ${declared} but is ${type.contentType}`,
        ),
      )
      return
    }
    this.type = type
    callback(null, head)
  }

  /** The hex SHA-256 of every byte; once the stream has ended. */
  sha256(): string {
    return this.hash.digest('hex')
  }
}

export interface SpooledUpload {
  /** The spool file; the caller removes it (`rm(file, { force: true })`) when done. */
  file: string
  size: number
  sha256: string
  type: DocumentType
}

/**
 * Streams one uploaded file through the inspector into a new spool file under `spoolDir`.
 * Refuses (DocumentTooLargeError, UnsupportedDocumentTypeError) with nothing left behind; on
 * success the caller owns the file.
 */
export async function spoolUpload(
  source: Readable,
  spoolDir: string,
  options: InspectOptions,
): Promise<SpooledUpload> {
  await mkdir(spoolDir, { recursive: true })
  const file = path.join(spoolDir, `${newId()}.upload`)
  const inspector = new UploadInspector(options)
  try {
    const handle = await open(file, 'wx')
    await pipeline(source, inspector, handle.createWriteStream())
  } catch (err) {
    await rm(file, { force: true })
    throw err
  }
  const type = inspector.type
  if (!type) throw new Error('the inspector ended without a type')
  return { file, size: inspector.size, sha256: inspector.sha256(), type }
}

/** Removes spool files (those a store moved away are gone already). */
export async function discardSpooled(uploads: readonly SpooledUpload[]): Promise<void> {
  await Promise.all(uploads.map((u) => rm(u.file, { force: true })))
}
