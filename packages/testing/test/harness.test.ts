import net from 'node:net'
import { createConnection } from 'mysql2/promise'
import t from 'tap'
import { createTestBroker, createTestDatabase, eventually, startTcpProxy } from '../src/index.ts'

t.test('a test database is fresh, usable, binary-collated and dropped at teardown', async (t) => {
  let url = ''
  await t.test('inner', async (t) => {
    url = await createTestDatabase(t)
    const conn = await createConnection({ uri: url })
    t.teardown(() => conn.end())
    const [rows] = await conn.query(
      'SELECT @@collation_database AS c, COUNT(*) AS tables FROM information_schema.tables WHERE table_schema = DATABASE()',
    )
    t.same(rows, [{ c: 'utf8mb4_bin', tables: 0 }])
  })
  const name = new URL(url).pathname.slice(1)
  const server = new URL(url)
  server.pathname = '/'
  const conn = await createConnection({ uri: server.toString() })
  t.teardown(() => conn.end())
  const [rows] = await conn.query('SHOW DATABASES LIKE ?', [name])
  t.same(rows, [], 'dropped after the inner test ended')
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
