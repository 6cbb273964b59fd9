// The upload pipeline of one file, without HTTP: the type from the first bytes, the declared
// type checked against it, SHA-256 and size, the 10 MiB limit, and nothing left on refusal.
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { declaredTypeAgrees, detectType } from '../src/storage/file-types.ts'
import {
  DocumentTooLargeError,
  MAX_DOCUMENT_BYTES,
  spoolUpload,
  UnsupportedDocumentTypeError,
  UploadInspector,
} from '../src/storage/upload.ts'
import { sample } from './fixtures.ts'

const inChunks = (bytes: Buffer, size: number) =>
  Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size)
    })(),
  )

t.test('the type comes from the first bytes', async (t) => {
  t.equal(detectType(sample.pdf())?.contentType, 'application/pdf')
  t.equal(detectType(sample.png())?.contentType, 'image/png')
  t.equal(detectType(sample.jpeg())?.contentType, 'image/jpeg')
  t.equal(detectType(sample.webp())?.contentType, 'image/webp')
  const refused: Record<string, Buffer> = {
    'an ELF executable': sample.elf(),
    'a shell script': sample.shellScript(),
    HTML: sample.html(),
    'HTML after whitespace': Buffer.from('  \n<html><script>x</script>'),
    'a PDF header after other bytes': Buffer.from('<html>%PDF-1.7 hidden'),
    'a PDF header without a version': Buffer.from('%PDF-x.y and so on'),
    'a PNG signature without its IHDR chunk': Buffer.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0, 0x3c, 0x68, 0x74, 0x6d,
    ]),
    'a RIFF file that is not WebP': Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '),
    GIF: Buffer.from('GIF89a\x01\x00\x01\x00'),
    'a ZIP archive': Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00'),
    'a Windows executable': Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00'),
    'an SVG image': Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
    'three bytes': Buffer.from('%PD'),
    nothing: Buffer.alloc(0),
  }
  for (const [what, bytes] of Object.entries(refused)) {
    t.equal(detectType(bytes), undefined, `refuses ${what}`)
  }
})

t.test('a declared type must agree with the bytes, or claim nothing', async (t) => {
  const pdfType = detectType(sample.pdf())
  if (!pdfType) throw new Error('not detected')
  for (const declared of [
    undefined,
    '',
    'application/pdf',
    'Application/PDF; charset=binary',
    'application/octet-stream',
    'text/plain',
  ]) {
    t.ok(declaredTypeAgrees(declared, pdfType), `accepts ${JSON.stringify(declared)}`)
  }
  for (const declared of ['image/png', 'text/html', 'application/x-msdownload', 'image/svg+xml']) {
    t.notOk(declaredTypeAgrees(declared, pdfType), `refuses ${declared}`)
  }
})

t.test('the inspector passes nothing on before the type is known', async (t) => {
  for (const bytes of [sample.elf(), sample.shellScript(), sample.html()]) {
    const inspector = new UploadInspector({
      field: 'cv',
      declaredType: 'application/pdf',
      maxBytes: MAX_DOCUMENT_BYTES,
    })
    let passed = 0
    inspector.on('data', (chunk: Buffer) => {
      passed += chunk.length
    })
    const failed = new Promise<unknown>((resolve) => inspector.on('error', resolve))
    // One byte at a time: the decision waits for enough bytes, whatever the chunking.
    inChunks(bytes, 1).pipe(inspector)
    const err = await failed
    t.ok(err instanceof UnsupportedDocumentTypeError, 'refused as not a document type')
    t.equal(passed, 0, 'no byte passed on')
  }
})

t.test('spooling', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'academic-spool-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const options = { field: 'cv', declaredType: 'application/pdf', maxBytes: MAX_DOCUMENT_BYTES }

  t.test('records the size and SHA-256 of exactly what was sent', async (t) => {
    for (const chunk of [1, 7, 65536]) {
      const bytes = sample.pdf(200_000)
      const spooled = await spoolUpload(inChunks(bytes, chunk), dir, options)
      t.equal(spooled.size, bytes.length)
      t.equal(spooled.sha256, createHash('sha256').update(bytes).digest('hex'))
      t.equal(spooled.type.contentType, 'application/pdf')
      t.ok((await readFile(spooled.file)).equals(bytes), `the same bytes (chunks of ${chunk})`)
      await rm(spooled.file)
    }
  })

  t.test('10 MiB is accepted, 10 MiB + 1 byte is 413 and leaves nothing', async (t) => {
    const exact = await spoolUpload(inChunks(sample.png(MAX_DOCUMENT_BYTES), 65536), dir, {
      ...options,
      declaredType: 'image/png',
    })
    t.equal(exact.size, MAX_DOCUMENT_BYTES)
    await rm(exact.file)
    const source = inChunks(sample.pdf(MAX_DOCUMENT_BYTES + 1), 65536)
    await t.rejects(
      spoolUpload(source, dir, options),
      new DocumentTooLargeError('cv', MAX_DOCUMENT_BYTES),
    )
    t.ok(source.destroyed, 'the upload stream is stopped')
    t.same(await readdir(dir), [], 'no spool file left')
  })

  t.test('refused types leave nothing', async (t) => {
    for (const [what, bytes, declared] of [
      ['ELF named .pdf', sample.elf(), 'application/pdf'],
      ['shell script', sample.shellScript(), 'application/pdf'],
      ['HTML', sample.html(), 'text/html'],
      ['PDF declared as PNG', sample.pdf(), 'image/png'],
      ['an empty file', Buffer.alloc(0), 'application/pdf'],
    ] as const) {
      await t.rejects(
        spoolUpload(inChunks(bytes, 4096), dir, { ...options, declaredType: declared }),
        { name: 'UnsupportedDocumentTypeError', field: 'cv' },
        what,
      )
    }
    t.same(await readdir(dir), [], 'no spool file left')
  })
})
