// The operator's listener: Prometheus scrapes the gateway's /metrics here, on an address of the
// operator's choosing (127.0.0.1 by default), never on the public port.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface OperatorListener {
  url: string
  close(): Promise<void>
}

export async function startOperatorListener(
  registry: Registry,
  host: string,
  port: number,
): Promise<OperatorListener> {
  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      try {
        const body = await registry.metrics()
        res.writeHead(200, { 'content-type': registry.contentType }).end(body)
      } catch {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n')
      }
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  return {
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
