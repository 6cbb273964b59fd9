// Tutor profiles and their documents through HTTP on the real database, on both storage
// drivers: uploads and byte-for-byte read-back, the refusals (size, type, fields, cv, a second
// profile), who may read what, deletion, and a storage write failing halfway.
import { createHash } from 'node:crypto'
import http from 'node:http'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import type { DocumentStore } from '../src/storage/store.ts'
import { MAX_DOCUMENT_BYTES } from '../src/storage/upload.ts'
import { sample } from './fixtures.ts'
import {
  createProfile,
  drivers,
  multipartBody,
  type ProfileService,
  postForm,
  profileFields,
  profileService,
} from './profile-helpers.ts'

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function nothingLeft(t: Test, service: ProfileService, what: string) {
  t.same(await service.storedKeys(), [], `${what}: nothing in the store`)
  t.same(
    await service.rows(),
    { profiles: 0, documents: 0, intents: 0, tombstones: 0 },
    `${what}: nothing in the database`,
  )
  t.same(await service.temporaryFiles(), [], `${what}: no spool file`)
}

for (const driver of drivers) {
  t.test(`${driver} driver`, async (t) => {
    t.test('a complete upload reads back byte for byte with its recorded SHA-256', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const files = {
        cv: sample.pdf(3 * 1024 * 1024 + 5),
        id_card: sample.png(200_000),
        certificate1: sample.jpeg(150_000),
        certificate2: sample.webp(120_000),
      }
      const res = await postForm(service, '/academic/tutor-profiles', tutor.token, profileFields, [
        { field: 'cv', bytes: files.cv, filename: 'My CV.pdf', type: 'application/pdf' },
        { field: 'id_card', bytes: files.id_card, filename: 'id.png', type: 'image/png' },
        {
          field: 'certificates',
          bytes: files.certificate1,
          filename: 'c1.jpg',
          type: 'image/jpeg',
        },
        { field: 'certificates', bytes: files.certificate2, filename: 'c2.webp' },
      ])
      t.equal(res.statusCode, 201, res.body)
      const profile = res.json()
      t.match(profile, {
        user_id: tutor.id,
        status: 'pending',
        bio: 'I teach maths.',
        subjects: ['maths', 'physics'],
        hourly_rate: 2500,
        currency: 'usd',
      })
      t.equal(res.headers.location, `/academic/tutor-profiles/${profile.id}`)
      const expected = [
        ['cv', 'My CV.pdf', 'application/pdf', files.cv],
        ['id_card', 'id.png', 'image/png', files.id_card],
        ['certificate', 'c1.jpg', 'image/jpeg', files.certificate1],
        ['certificate', 'c2.webp', 'image/webp', files.certificate2],
      ] as const
      t.equal(profile.documents.length, 4)
      t.equal((await service.storedKeys()).length, 4, 'four objects stored')
      t.same(await service.rows(), { profiles: 1, documents: 4, intents: 0, tombstones: 0 })
      t.same(await service.temporaryFiles(), [], 'no spool file left')
      for (const [i, [kind, filename, type, bytes]] of expected.entries()) {
        const d = profile.documents[i]
        t.match(d, { kind, filename, content_type: type, size: bytes.length, status: 'pending' })
        t.equal(d.sha256, sha256(bytes), `${kind}: the SHA-256 of what was sent`)
        const read = await service.app.inject({
          method: 'GET',
          url: `/academic/tutor-profiles/${profile.id}/documents/${d.id}`,
          headers: bearer(tutor.token),
        })
        t.equal(read.statusCode, 200)
        t.ok(read.rawPayload.equals(bytes), `${kind}: the same bytes back`)
        t.equal(sha256(read.rawPayload), d.sha256)
        t.equal(read.headers['content-type'], type)
        t.equal(read.headers['content-length'], String(bytes.length))
        t.equal(read.headers['x-content-type-options'], 'nosniff')
        t.match(
          read.headers['content-disposition'],
          /^attachment; filename="[^"]+"; filename\*=UTF-8''/,
        )
      }
      const listed = await service.app.inject({
        method: 'GET',
        url: `/academic/tutor-profiles/${profile.id}/documents`,
        headers: bearer(tutor.token),
      })
      t.same(
        listed.json().items.map((d: { id: string }) => d.id),
        profile.documents.map((d: { id: string }) => d.id),
      )
    })

    t.test('10 MiB is accepted; 10 MiB + 1 byte is 413 with nothing left', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const over = await postForm(service, '/academic/tutor-profiles', tutor.token, profileFields, [
        { field: 'cv', bytes: sample.pdf(MAX_DOCUMENT_BYTES + 1), type: 'application/pdf' },
      ])
      t.equal(over.statusCode, 413)
      t.match(over.json(), { type: /document-too-large/, errors: [{ field: 'cv' }] })
      await nothingLeft(t, service, '10 MiB + 1')
      // A file after a good one: the good one goes too.
      const second = await postForm(
        service,
        '/academic/tutor-profiles',
        tutor.token,
        profileFields,
        [
          { field: 'cv', bytes: sample.pdf(1000), type: 'application/pdf' },
          { field: 'id_card', bytes: sample.png(MAX_DOCUMENT_BYTES + 1), type: 'image/png' },
        ],
      )
      t.equal(second.statusCode, 413)
      await nothingLeft(t, service, 'a good file, then one too large')
      const exact = await postForm(
        service,
        '/academic/tutor-profiles',
        tutor.token,
        profileFields,
        [{ field: 'cv', bytes: sample.pdf(MAX_DOCUMENT_BYTES), type: 'application/pdf' }],
      )
      t.equal(exact.statusCode, 201)
      t.equal(exact.json().documents[0].size, MAX_DOCUMENT_BYTES)
    })

    t.test('a .pdf that is an ELF, a shell script or HTML is 415', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const impostors = {
        'an ELF executable': sample.elf(),
        'a shell script': sample.shellScript(),
        HTML: sample.html(),
      }
      for (const [what, bytes] of Object.entries(impostors)) {
        for (const type of ['application/pdf', 'application/octet-stream']) {
          const res = await postForm(
            service,
            '/academic/tutor-profiles',
            tutor.token,
            profileFields,
            [{ field: 'cv', bytes, filename: 'cv.pdf', type }],
          )
          t.equal(res.statusCode, 415, `${what} declared ${type}`)
          t.match(res.json(), { type: /unsupported-document-type/, errors: [{ field: 'cv' }] })
        }
      }
      const lying = await postForm(
        service,
        '/academic/tutor-profiles',
        tutor.token,
        profileFields,
        [{ field: 'cv', bytes: sample.pdf(), filename: 'cv.png', type: 'image/png' }],
      )
      t.equal(lying.statusCode, 415, 'a PDF declared as a PNG')
      await nothingLeft(t, service, 'impostors')
    })

    t.test('the form: cv required, unknown fields refused, one profile per tutor', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const post = (
        fields: Record<string, string>,
        files = [{ field: 'cv', bytes: sample.pdf() }],
      ) => postForm(service, '/academic/tutor-profiles', tutor.token, fields, files)

      const noCv = await post(profileFields, [{ field: 'id_card', bytes: sample.png() }])
      t.equal(noCv.statusCode, 400, 'no cv')
      t.match(noCv.json(), { errors: [{ field: 'cv', message: 'is required' }] })
      for (const sneaky of ['status', 'user_id', 'reviewed_by', 'review_note', 'id']) {
        const res = await post({ ...profileFields, [sneaky]: 'approved' })
        t.equal(res.statusCode, 400, `a ${sneaky} field`)
        t.match(res.json(), { errors: [{ field: sneaky }] })
      }
      const unknownFile = await post(profileFields, [
        { field: 'cv', bytes: sample.pdf() },
        { field: 'photo', bytes: sample.png() },
      ])
      t.equal(unknownFile.statusCode, 400, 'an unknown file field')
      const sixCertificates = await post(profileFields, [
        { field: 'cv', bytes: sample.pdf() },
        ...Array.from({ length: 6 }, () => ({ field: 'certificates', bytes: sample.jpeg() })),
      ])
      t.equal(sixCertificates.statusCode, 400, 'six certificates')
      const twoCvs = await post(profileFields, [
        { field: 'cv', bytes: sample.pdf() },
        { field: 'cv', bytes: sample.pdf() },
      ])
      t.equal(twoCvs.statusCode, 400, 'two cvs')
      for (const [field, value] of [
        ['hourly_rate', '12.50'],
        ['hourly_rate', '0'],
        ['subjects', ' , '],
        ['currency', 'eur'],
      ]) {
        const res = await post({ ...profileFields, [field as string]: value as string })
        t.equal(res.statusCode, 400, `${field} ${value}`)
      }
      const json = await service.app.inject({
        method: 'POST',
        url: '/academic/tutor-profiles',
        headers: bearer(tutor.token),
        payload: { bio: 'x', subjects: 'maths', hourly_rate: 1 },
      })
      t.equal(json.statusCode, 415, 'JSON instead of a form')
      await nothingLeft(t, service, 'refused forms')

      t.equal((await post(profileFields)).statusCode, 201)
      const second = await post(profileFields)
      t.equal(second.statusCode, 409, 'a second profile')
      t.match(second.json(), { type: /profile-exists/ })
      t.equal((await service.storedKeys()).length, 1, 'the refused one stored nothing')

      const student = await service.user('student-1', 'student')
      const byStudent = await postForm(
        service,
        '/academic/tutor-profiles',
        student.token,
        profileFields,
        [{ field: 'cv', bytes: sample.pdf() }],
      )
      t.equal(byStudent.statusCode, 403, 'a student')
      const anonymous = await postForm(
        service,
        '/academic/tutor-profiles',
        undefined,
        profileFields,
        [{ field: 'cv', bytes: sample.pdf() }],
      )
      t.equal(anonymous.statusCode, 401)
    })

    t.test('a student and another tutor can neither read nor list the documents', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const other = await service.user('tutor-2', 'tutor')
      const student = await service.user('student-1', 'student')
      const admin = await service.user('admin-1', 'admin')
      const profile = await createProfile(service, tutor.token, [
        { field: 'cv', bytes: sample.pdf() },
      ])
      const cv = profile.documents[0]
      const get = (url: string, token?: string) =>
        service.app.inject({ method: 'GET', url, headers: token ? bearer(token) : {} })
      const base = `/academic/tutor-profiles/${profile.id}`

      for (const [who, token] of [
        ['another tutor', other.token],
        ['a student', student.token],
      ] as const) {
        t.equal((await get(`${base}/documents/${cv.id}`, token)).statusCode, 404, `${who}: file`)
        t.equal((await get(`${base}/documents`, token)).statusCode, 404, `${who}: list`)
        t.equal((await get(base, token)).statusCode, 404, `${who}: the pending profile`)
        const list = (await get('/academic/tutor-profiles', token)).json()
        t.same(list.items, [], `${who}: not in the browse`)
      }
      // Changes: a student may never (403, alike for a profile that does not exist: the answer
      // tells nothing of it); another tutor learns nothing (404).
      const change = (method: 'PATCH', url: string, token: string) =>
        service.app.inject({ method, url, headers: bearer(token), payload: { bio: 'x' } })
      const nowhere = '/academic/tutor-profiles/00000000-0000-7000-8000-000000000000'
      for (const url of [base, nowhere]) {
        const what = url === base ? 'the pending profile' : 'no profile'
        t.equal(
          (await change('PATCH', url, student.token)).statusCode,
          403,
          `a student: edit ${what}`,
        )
        const remove = await service.app.inject({
          method: 'DELETE',
          url,
          headers: bearer(student.token),
        })
        t.equal(remove.statusCode, 403, `a student: delete ${what}`)
        const removeCv = await service.app.inject({
          method: 'DELETE',
          url: `${url}/documents/${cv.id}`,
          headers: bearer(student.token),
        })
        t.equal(removeCv.statusCode, 403, `a student: remove a document of ${what}`)
        const add = await postForm(service, `${url}/documents`, student.token, {}, [
          { field: 'certificates', bytes: sample.png() },
        ])
        t.equal(add.statusCode, 403, `a student: add documents to ${what}`)
      }
      t.equal((await change('PATCH', base, other.token)).statusCode, 404, 'another tutor: edit')
      t.equal(
        (await service.app.inject({ method: 'DELETE', url: base, headers: bearer(other.token) }))
          .statusCode,
        404,
        'another tutor: delete',
      )
      t.equal((await get(`${base}/documents/${cv.id}`)).statusCode, 401, 'anonymous: file')
      t.equal((await get(`${base}/documents/${cv.id}`, admin.token)).statusCode, 200, 'admin')
      t.equal((await get(`${base}/documents`, admin.token)).statusCode, 200)

      // Approved, the profile is public; its documents and review are still not.
      const review = (url: string, payload: object) =>
        service.app.inject({ method: 'PATCH', url, headers: bearer(admin.token), payload })
      t.equal((await review(`${base}/documents/${cv.id}`, { status: 'approved' })).statusCode, 200)
      t.equal((await review(base, { status: 'approved', review_note: 'ok' })).statusCode, 200)
      for (const token of [other.token, student.token, undefined]) {
        const seen = await get(base, token)
        t.equal(seen.statusCode, 200)
        t.notOk('documents' in seen.json(), 'no documents in the view')
        t.notOk('review_note' in seen.json(), 'no review in the view')
        const listed = (await get('/academic/tutor-profiles', token)).json().items
        t.equal(listed.length, 1)
        t.notOk('documents' in listed[0])
        if (token) {
          t.equal((await get(`${base}/documents/${cv.id}`, token)).statusCode, 404)
          t.equal((await get(`${base}/documents`, token)).statusCode, 404)
        }
      }
      const mine = (await get(base, tutor.token)).json()
      t.equal(mine.documents.length, 1, 'the owner sees them')
      t.equal(mine.review_note, 'ok')
      t.notOk('reviewed_by' in mine, 'but not which admin reviewed')
      t.equal((await get(base, admin.token)).json().reviewed_by, admin.id)
      // A document of another profile, by a path that mixes them up, is not there either.
      await service.user('tutor-3', 'tutor')
      const third = await createProfile(
        service,
        await service.token({ id: 'tutor-3', role: 'tutor' }),
      )
      t.equal(
        (await get(`/academic/tutor-profiles/${third.id}/documents/${cv.id}`, admin.token))
          .statusCode,
        404,
      )
    })

    t.test('a tutor cannot approve their own profile or document by any field', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const profile = await createProfile(service, tutor.token, [
        { field: 'cv', bytes: sample.pdf() },
      ])
      const base = `/academic/tutor-profiles/${profile.id}`
      const patch = (url: string, payload: object) =>
        service.app.inject({ method: 'PATCH', url, headers: bearer(tutor.token), payload })
      for (const body of [
        { status: 'approved' },
        { bio: 'new', status: 'approved' },
        { review_note: 'fine by me' },
        { reviewed_by: tutor.id },
        { reviewed_at: '2026-01-01T00:00:00Z' },
        { user_id: 'someone-else' },
      ]) {
        const res = await patch(base, body)
        t.equal(res.statusCode, 400, `profile ${JSON.stringify(body)}`)
        t.ok(res.json().errors?.length, 'names the field')
      }
      for (const body of [{ status: 'approved' }, { status: 'approved', review_note: 'ok' }]) {
        const res = await patch(`${base}/documents/${profile.documents[0].id}`, body)
        t.equal(res.statusCode, 403, `document ${JSON.stringify(body)}`)
      }
      const withStatus = await postForm(
        service,
        `${base}/documents`,
        tutor.token,
        { status: 'approved' },
        [{ field: 'certificates', bytes: sample.pdf() }],
      )
      t.equal(withStatus.statusCode, 400, 'a status field on the documents form')
      const after = (
        await service.app.inject({ method: 'GET', url: base, headers: bearer(tutor.token) })
      ).json()
      t.equal(after.status, 'pending')
      t.same(
        after.documents.map((d: { status: string }) => d.status),
        ['pending'],
      )
      t.equal(after.reviewed_by, undefined)
      const row = await service.db
        .selectFrom('tutor_profiles')
        .select(['status', 'reviewed_by', 'review_note'])
        .executeTakeFirstOrThrow()
      t.same(row, { status: 'pending', reviewed_by: null, review_note: null })
    })

    t.test('deleting removes the stored objects', async (t) => {
      const service = await profileService(t, driver)
      const tutor = await service.user('tutor-1', 'tutor')
      const admin = await service.user('admin-1', 'admin')
      const profile = await createProfile(service, tutor.token, [
        { field: 'cv', bytes: sample.pdf() },
        { field: 'id_card', bytes: sample.png() },
        { field: 'certificates', bytes: sample.jpeg() },
      ])
      const base = `/academic/tutor-profiles/${profile.id}`
      const keysBefore = await service.storedKeys()
      t.equal(keysBefore.length, 3)

      // A new cv replaces the old one, whose object goes.
      const replaced = await postForm(service, `${base}/documents`, tutor.token, {}, [
        { field: 'cv', bytes: sample.pdf(5000) },
      ])
      t.equal(replaced.statusCode, 201)
      t.same(
        replaced.json().documents.map((d: { kind: string }) => d.kind),
        ['id_card', 'certificate', 'cv'],
      )
      const afterReplace = await service.storedKeys()
      t.equal(afterReplace.length, 3)
      t.equal(afterReplace.filter((k) => keysBefore.includes(k)).length, 2, 'the old cv is gone')

      // Removing one document; the cv cannot be removed, only replaced.
      const del = (url: string, token = tutor.token) =>
        service.app.inject({ method: 'DELETE', url, headers: bearer(token) })
      const [idCard, certificate, cv] = replaced.json().documents
      t.equal((await del(`${base}/documents/${cv.id}`)).statusCode, 409, 'not the cv')
      t.equal((await del(`${base}/documents/${certificate.id}`)).statusCode, 204)
      t.equal((await service.storedKeys()).length, 2)
      const other = await service.user('tutor-2', 'tutor')
      t.equal((await del(`${base}/documents/${idCard.id}`, other.token)).statusCode, 404)
      t.equal((await del(base, other.token)).statusCode, 404, 'another tutor cannot delete it')

      t.equal((await del(base, admin.token)).statusCode, 204, 'an admin deletes the profile')
      await nothingLeft(t, service, 'after deleting')
      t.equal((await del(base, admin.token)).statusCode, 404, 'gone')
    })

    t.test('a storage write failing halfway leaves nothing', async (t) => {
      let failures = 0
      // The real driver, given a source that breaks after half of the file.
      const wrap = (store: DocumentStore): DocumentStore =>
        Object.assign(Object.create(store), {
          async putFile(key: string, file: string, options: { size: number; contentType: string }) {
            const { createReadStream } = await import('node:fs')
            const half = Math.floor(options.size / 2)
            const source = Readable.from(
              (async function* () {
                for await (const chunk of createReadStream(file, { end: half - 1 })) yield chunk
                failures++
                throw new Error('the disk broke halfway')
              })(),
            )
            return store.put(key, source, options)
          },
        })
      const service = await profileService(t, driver, { wrapStore: wrap })
      const tutor = await service.user('tutor-1', 'tutor')
      const res = await postForm(service, '/academic/tutor-profiles', tutor.token, profileFields, [
        { field: 'cv', bytes: sample.pdf(2 * 1024 * 1024) },
      ])
      t.equal(res.statusCode, 503, res.body)
      t.equal(res.headers['retry-after'], '5')
      t.equal(failures, 1, 'the write did fail halfway')
      await nothingLeft(t, service, 'a failed write')
    })
  })
}

t.test(
  'over a real socket: a refusal mid-upload is answered at once and closes the connection',
  async (t) => {
    const service = await profileService(t, 'local')
    const tutor = await service.user('tutor-1', 'tutor')
    const url = await service.app.listen({ host: '127.0.0.1', port: 0 })
    // 30 MiB in one file: refused at 10 MiB + 1 while most of it is still to be sent.
    const body = await multipartBody(profileFields, [
      { field: 'cv', bytes: sample.pdf(30 * 1024 * 1024) },
    ])
    const answer = await new Promise<{
      status: number
      connection: string | undefined
      text: string
    }>((resolve, reject) => {
      const request = http.request(`${url}/academic/tutor-profiles`, {
        method: 'POST',
        headers: {
          ...body.headers,
          'content-length': String(body.payload.length),
          authorization: `Bearer ${tutor.token}`,
        },
      })
      // Writing the rest may fail once the server has closed: that is the point.
      request.on('error', (err) => reject(err))
      request.once('response', async (response) => {
        let text = ''
        for await (const chunk of response) text += chunk
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, text })
      })
      request.end(body.payload)
    }).catch((err: NodeJS.ErrnoException) => ({ status: -1, connection: err.code, text: '' }))
    t.equal(answer.status, 413, 'the client reads the 413')
    t.equal(
      answer.connection,
      'close',
      'and the connection is closed, not left with the rest unread',
    )
    t.match(JSON.parse(answer.text), { type: /document-too-large/ })
    await nothingLeft(t, service, 'over a real socket')
  },
)
