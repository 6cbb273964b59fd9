// MinIO's command line and credentials in front of s3rver:
//   server DIR [--address [HOST]:PORT] [--console-address ...]   (the console is not served)
// MINIO_ROOT_USER / MINIO_ROOT_PASSWORD become the access key and secret (default
// minioadmin/minioadmin, as MinIO's).
'use strict'
const S3rver = require('s3rver')
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account')

const args = process.argv.slice(2)
if (args[0] !== 'server' || !args[1]) {
  console.error('usage: server DIR [--address [HOST]:PORT] [--console-address [HOST]:PORT]')
  process.exit(2)
}
const option = (name) => {
  const i = args.indexOf(name)
  return i > 0 ? args[i + 1] : undefined
}
const [host, port] = (option('--address') ?? ':9000').split(/:(?=\d+$)/)

DUMMY_ACCOUNT.revokeAccessKey('S3RVER')
DUMMY_ACCOUNT.createKeyPair(
  process.env.MINIO_ROOT_USER || 'minioadmin',
  process.env.MINIO_ROOT_PASSWORD || 'minioadmin',
)

const server = new S3rver({
  address: host || '0.0.0.0',
  port: Number(port),
  directory: args[1],
  silent: true,
  vhostBuckets: false,
})
// MinIO's health endpoints, ahead of the S3 routes (which would read them as a bucket).
server.middleware.unshift(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path.startsWith('/minio/health/')) {
    ctx.status = 200
    return
  }
  await next()
})

server.run().then(
  (address) =>
    console.log(`API: http://${address.address}:${address.port}  (s3rver stand-in for MinIO)`),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close().finally(() => process.exit(0)))
}
