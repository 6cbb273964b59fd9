import net from 'node:net'
import { createDb, sql } from '@tms/db'
import t from 'tap'
import { createTestBroker, createTestDatabase, eventually, startTcpProxy } from '../src/index.ts'

t.test('a test database is fresh, usable and dropped at teardown', async (t) => {
  let url = ''
  await t.test('inner', async (t) => {
    url = await createTestDatabase(t)
    const db = createDb(url)
    t.teardown(() => db.destroy())
    const { rows } = await sql<{ tz: string }>`SELECT @@session.time_zone AS tz`.execute(db)
    t.equal(rows[0]?.tz, '+00:00')
  })
  const name = new URL(url).pathname.slice(1)
  const server = new URL(url)
  server.pathname = '/'
  const db = createDb(server.toString())
  t.teardown(() => db.destroy())
  const { rows } = await sql`SHOW DATABASES LIKE ${name}`.execute(db)
  t.equal(rows.length, 0, 'dropped after the inner test ended')
})

t.test('broker prefixes differ between calls', async (t) => {
  const a = await createTestBroker()
  const b = await createTestBroker()
  t.not(a.prefix, b.prefix)
  t.match(a.url, /^amqps?:\/\//)
})

t.test('the TCP proxy forwards, cuts and restores', async (t) => {
  const echo = net.createServer((s) => s.pipe(s))
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
  t.teardown(() => echo.close())
  const proxy = await startTcpProxy('127.0.0.1', (echo.address() as net.AddressInfo).port)
  t.teardown(() => proxy.close())

  const roundTrip = () =>
    new Promise<string>((resolve, reject) => {
      const c = net.connect(proxy.port, '127.0.0.1', () => c.write('ping'))
      c.once('data', (d) => {
        resolve(d.toString())
        c.destroy()
      })
      c.once('error', reject)
      c.once('close', () => reject(new Error('closed')))
    })
  t.equal(await roundTrip(), 'ping')
  proxy.cut()
  await t.rejects(roundTrip())
  proxy.restore()
  t.equal(await eventually(roundTrip), 'ping')
})
