// The bare references of hot-paths.bench.ts, each started as a process of its own, as the
// service is, so that both sides of a ratio share the machine the same way:
//   node baselines.ts hello <port>                 raw node:http answering a small JSON hello
//   node baselines.ts read <port> <database-url>   Fastify (no logger) + one mysql2 primary-key
//                                                  read of a profile per request (GET /me/:id)
// Each prints `listening` once it accepts connections.
import http from 'node:http'
import Fastify from 'fastify'
import { createPool } from 'mysql2/promise'

const [mode, portText, databaseUrl] = process.argv.slice(2)
const port = Number(portText)

if (mode === 'hello') {
  const body = JSON.stringify({ status: 'ok', service: 'raw' })
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
    res.end(body)
  })
  server.listen(port, '127.0.0.1', () => console.log('listening'))
} else if (mode === 'read' && databaseUrl) {
  // The service's pool size and connection settings.
  const pool = createPool({ uri: databaseUrl, connectionLimit: 10, timezone: 'Z' })
  const app = Fastify({ logger: false })
  app.get<{ Params: { id: string } }>('/me/:id', async (request) => {
    const [rows] = await pool.query(
      'SELECT user_id, username, email, name, phone, role, created_at FROM profile WHERE user_id = ?',
      [request.params.id],
    )
    return (rows as unknown[])[0]
  })
  await app.listen({ host: '127.0.0.1', port })
  console.log('listening')
} else {
  console.error('usage: node baselines.ts hello <port> | read <port> <database-url>')
  process.exit(2)
}
