// A client that sends the headers and part of a body over a raw socket, then goes silent: what
// a server's request timeout must cut off (issue 8: a slow body was never timed out).
import net from 'node:net'

/**
 * POSTs to `path` of `base` (http://host:port) a JSON body announced as 100 bytes, sends 12 of
 * them and nothing more; resolves when the server closes the connection, with how long that
 * took and what it answered.
 */
export function stallAfterPartOfABody(
  base: string,
  path = '/things',
): Promise<{ afterMs: number; answer: string }> {
  const { hostname, port } = new URL(base)
  const socket = net.connect(Number(port), hostname)
  const received: Buffer[] = []
  socket.on('data', (chunk) => received.push(chunk))
  socket.on('error', () => {})
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": "ab`,
  )
  const started = performance.now()
  return new Promise((resolve) =>
    socket.on('close', () =>
      resolve({ afterMs: performance.now() - started, answer: Buffer.concat(received).toString() }),
    ),
  )
}
