import t from 'tap'
import type { DocumentType } from '../src/storage/file-types.ts'
import { attachmentDisposition, documentFilename } from '../src/storage/filename.ts'

const pdf: DocumentType = { contentType: 'application/pdf', extension: 'pdf' }
const png: DocumentType = { contentType: 'image/png', extension: 'png' }

t.test('client file names are made safe and given the real extension', async (t) => {
  const cases: [string | undefined, DocumentType, string][] = [
    ['cv.pdf', pdf, 'cv.pdf'],
    ['My CV (2026).final.pdf', pdf, 'My CV (2026).final.pdf'],
    ['cv.html', pdf, 'cv.pdf'],
    ['photo.PDF', png, 'photo.png'],
    ['../../etc/passwd', pdf, 'passwd.pdf'],
    ['C:\\Users\\me\\cv.pdf', pdf, 'cv.pdf'],
    ['.bashrc', pdf, 'cv.pdf'],
    ['...', pdf, 'cv.pdf'],
    ['', pdf, 'cv.pdf'],
    [undefined, pdf, 'cv.pdf'],
    ['a"b;c\r\nSet-Cookie: x=1.pdf', pdf, 'a_b_c Set-Cookie_ x=1.pdf'],
    ['invoice\u202Efdp.exe', pdf, 'invoicefdp.pdf'],
    ['zero\u200Bwidth\u0000.pdf', pdf, 'zerowidth.pdf'],
    ['Lebenslauf Müller.pdf', pdf, 'Lebenslauf Müller.pdf'],
    ['e\u0301te\u0301.pdf', pdf, 'été.pdf'],
    ['履歴書.pdf', pdf, '履歴書.pdf'],
    ['tabs\tand   spaces .pdf', pdf, 'tabs and spaces.pdf'],
  ]
  for (const [input, type, expected] of cases) {
    t.equal(documentFilename(input, type, 'cv'), expected, JSON.stringify(input))
  }
  const long = documentFilename(`${'😀'.repeat(300)}.pdf`, pdf, 'cv')
  t.equal(Array.from(long).length, 104, 'at most 100 characters before the extension')
  t.ok(long.isWellFormed(), 'no surrogate pair cut in half')
})

t.test('Content-Disposition is an attachment with an ASCII and a UTF-8 name', async (t) => {
  t.equal(attachmentDisposition('cv.pdf'), `attachment; filename="cv.pdf"; filename*=UTF-8''cv.pdf`)
  t.equal(
    attachmentDisposition("Müller's CV (1)*.pdf"),
    `attachment; filename="M_ller's CV (1)*.pdf"; filename*=UTF-8''M%C3%BCller%27s%20CV%20%281%29%2A.pdf`,
  )
  t.equal(
    attachmentDisposition('履歴書.pdf'),
    `attachment; filename="___.pdf"; filename*=UTF-8''%E5%B1%A5%E6%AD%B4%E6%9B%B8.pdf`,
  )
  t.equal(
    attachmentDisposition('a\\b"c%41.pdf'),
    `attachment; filename="a_b_c_41.pdf"; filename*=UTF-8''a%5Cb%22c%2541.pdf`,
  )
})
