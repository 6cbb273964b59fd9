// The client's file name is kept only to name the download: made safe to show and to put in a
// Content-Disposition header, and given the extension of the type its bytes really are (a PDF
// sent as "cv.html" downloads as "cv.pdf", so no program opens it as something else).
import type { DocumentType } from './file-types.ts'

/** Longest kept name before the extension, in characters. */
const MAX_BASE_LENGTH = 100

/**
 * A safe display name: the last path segment, NFC, without control, format (bidirectional
 * overrides, zero-width) or separator characters, without the characters file systems and
 * headers stumble on, no leading dots, at most 100 characters, ending in the type's extension.
 */
export function documentFilename(
  clientName: string | undefined,
  type: DocumentType,
  fallback: string,
): string {
  const lastSegment = (clientName ?? '').normalize('NFC').split(/[/\\]/).pop() ?? ''
  const cleaned = lastSegment
    .replace(/\s+/gu, ' ')
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/gu, '')
    .replace(/["*:;<>?|%]/g, '_')
    .trim()
  const withoutExtension = cleaned.replace(/\.[\p{L}\p{N}]{1,10}$/u, '')
  const base = Array.from(withoutExtension.replace(/^[.\s]+|[.\s]+$/gu, ''))
    .slice(0, MAX_BASE_LENGTH)
    .join('')
    .trim()
  return `${base === '' ? fallback : base}.${type.extension}`
}

/** RFC 5987 value characters; everything else is percent-encoded. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

/**
 * `attachment` with the name twice (RFC 6266): an ASCII fallback for old clients and the exact
 * name as UTF-8. Always a download, never shown inline.
 */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(filename)}`
}
