// The document types the service accepts, told by the file's own first bytes (magic numbers),
// never by its name or the type the client declares. Anything else - an executable, a script,
// HTML, an archive - is refused, however it is named.

export interface DocumentType {
  contentType: 'application/pdf' | 'image/png' | 'image/jpeg' | 'image/webp'
  /** The extension a download of this type is given. */
  extension: string
}

/** Bytes enough to tell every accepted type apart. */
export const SNIFF_BYTES = 16

const ascii = (bytes: Buffer, start: number, text: string) =>
  bytes.subarray(start, start + text.length).toString('latin1') === text

/** The accepted type whose signature the bytes start with, else undefined. */
export function detectType(head: Buffer): DocumentType | undefined {
  // PDF: "%PDF-" and a version digit (ISO 32000 puts the header at byte 0; a file that hides
  // it later, as readers tolerate, is not accepted).
  const version = head[5] ?? 0
  if (ascii(head, 0, '%PDF-') && version >= 0x31 && version <= 0x32) {
    return { contentType: 'application/pdf', extension: 'pdf' }
  }
  // PNG: the 8-byte signature, then the IHDR chunk that must come first.
  if (
    head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) &&
    ascii(head, 12, 'IHDR')
  ) {
    return { contentType: 'image/png', extension: 'png' }
  }
  // JPEG: start-of-image, then the first marker.
  if (head.length >= 4 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    return { contentType: 'image/jpeg', extension: 'jpg' }
  }
  // WebP: a RIFF container of form WEBP, then a VP8 / VP8L / VP8X chunk.
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP') && ascii(head, 12, 'VP8')) {
    return { contentType: 'image/webp', extension: 'webp' }
  }
  return undefined
}

/** What a client may declare for each type: no declaration (or a generic one) is fine too. */
const declaredAliases: Record<string, DocumentType['contentType'] | 'any'> = {
  'application/octet-stream': 'any',
  // The multipart parser reports a part sent without a Content-Type as text/plain (RFC 7578's
  // default), and many clients send files so: it cannot be told from a claim.
  'text/plain': 'any',
  'application/pdf': 'application/pdf',
  'application/x-pdf': 'application/pdf',
  'image/png': 'image/png',
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/webp': 'image/webp',
}

/**
 * Whether the part's declared Content-Type agrees with the detected type: absent, `text/plain`
 * (what an absent one is reported as) or `application/octet-stream` claim nothing; anything
 * else must name the same type.
 */
export function declaredTypeAgrees(declared: string | undefined, detected: DocumentType): boolean {
  const base = (declared ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (base === '') return true
  const alias = declaredAliases[base]
  return alias === 'any' || alias === detected.contentType
}
