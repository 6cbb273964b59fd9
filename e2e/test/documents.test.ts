// A tutor's documents through the gateway, as a client sends them to the real academic service:
// a 10 MiB certificate up as a multipart form and down again byte for byte, with the SHA-256
// the service recorded; one byte more is a 413 that leaves nothing behind; the owner lists and
// removes documents there too; nobody else reads one. (That the gateway streams rather than
// buffers is proven in gateway/test/proxy.test.ts, where the service holds half an upload
// before the client has sent the rest; here the gateway's peak memory is printed.)
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { admin, cast, files, newAccount, startSystem } from '../src/index.ts'

const MiB = 1024 * 1024
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/** A PDF by its first bytes, of `size` bytes in all. */
const pdfOf = (size: number) => Buffer.concat([files.pdf, randomBytes(size - files.pdf.length)])

/** Resident memory now and its peak since the last reset, in bytes (Linux /proc). */
function memoryOf(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1]) * 1024
  return { rss: kib('VmRSS'), peak: kib('VmHWM') }
}

t.test('a 10 MiB document goes up and comes back through the gateway, intact', async (t) => {
  const system = await startSystem(t)
  const c = await cast(system.url, admin, 0)
  const documents = `/academic/tutor-profiles/${c.profile.id}/documents`
  const form = (bytes: Buffer) => {
    const body = new FormData()
    body.set('certificates', new Blob([bytes], { type: 'application/pdf' }), 'diploma.pdf')
    return body
  }

  const gateway = system.process('gateway').pid as number
  writeFileSync(`/proc/${gateway}/clear_refs`, '5') // the peak starts from now
  const before = memoryOf(gateway)

  const bytes = pdfOf(10 * MiB)
  const view = await c.tutor.client.expect(201, 'POST', documents, form(bytes))
  const certificate = (view.documents as { kind: string; id: string }[]).find(
    (d) => d.kind === 'certificate',
  )
  t.match(certificate, {
    size: bytes.length,
    sha256: sha256(bytes),
    content_type: 'application/pdf',
  })

  const url = `${system.url}${documents}/${certificate?.id}`
  const read = await fetch(url, { headers: { authorization: `Bearer ${c.tutor.client.token}` } })
  t.equal(read.status, 200)
  t.equal(read.headers.get('content-type'), 'application/pdf')
  t.equal(read.headers.get('x-content-type-options'), 'nosniff')
  t.match(read.headers.get('content-disposition'), /^attachment; filename="diploma\.pdf"/)
  const back = Buffer.from(await read.arrayBuffer())
  t.equal(back.length, bytes.length)
  t.ok(back.equals(bytes), 'byte for byte')

  const after = memoryOf(gateway)
  t.comment(
    `gateway: resident ${Math.round(before.rss / MiB)} MiB before, peak ${Math.round(after.peak / MiB)} MiB while 10 MiB went up and down`,
  )

  // One byte over the limit: refused, and the profile holds what it held.
  const tooLarge = await c.tutor.client.call('POST', documents, form(pdfOf(10 * MiB + 1)))
  t.equal(tooLarge.status, 413, JSON.stringify(tooLarge.body))
  const listed = await c.tutor.client.expect(200, 'GET', documents)
  t.equal(listed.items.length, 3, 'the cv, the id card and the certificate')

  // The owner removes it through the gateway too; the file goes with it.
  await c.tutor.client.expect(204, 'DELETE', `${documents}/${certificate?.id}`)
  const gone = await fetch(url, { headers: { authorization: `Bearer ${c.tutor.client.token}` } })
  t.equal(gone.status, 404, 'removed')
  await gone.arrayBuffer()

  // Nobody else reads a document. A student is refused at the edge (403: a role that may never,
  // whatever the document); another tutor gets 404 from the service, as for no document at all.
  const cv = (view.documents as { kind: string; id: string }[]).find((d) => d.kind === 'cv')
  const cvUrl = `${system.url}${documents}/${cv?.id}`
  for (const [role, status] of [
    ['student', 403],
    ['tutor', 404],
  ] as const) {
    const stranger = await newAccount(c.api, role)
    const res = await fetch(cvUrl, {
      headers: { authorization: `Bearer ${stranger.client.token}` },
    })
    t.equal(res.status, status, `another ${role}`)
    await res.arrayBuffer()
  }
})
