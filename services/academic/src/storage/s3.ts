// The S3 driver (MinIO, or any S3-compatible server) when S3_ENDPOINT is set. Objects are
// private (the bucket gets no policy; only signed requests reach them).
//
// Writes do not go through the minio client's putObject: it reads a stream of up to its part
// size (64 MiB) into one Buffer before sending. Instead the object is PUT in one request, with
// its length known up front, to a presigned URL, and the source is piped into the request with
// backpressure: one chunk in memory at a time. S3 stores an object only when all its declared
// bytes arrived, so a write cut halfway leaves nothing.
import http from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Client, S3Error } from 'minio'
import {
  assertStorageKey,
  type DocumentStore,
  ExactLength,
  type PutOptions,
  putFileByStream,
  type StoredObject,
} from './store.ts'

export interface S3Settings {
  /** The server's origin, e.g. `http://127.0.0.1:9000`; buckets are addressed path-style. */
  endpoint: string
  accessKey: string
  secretKey: string
  bucket: string
  region: string
}

/** A signed PUT URL lives this long; the request must start within it. */
const PRESIGN_SECONDS = 15 * 60
/** Objects of this service share a bucket with anything else under this prefix. */
const PREFIX = 'documents/'
/** An error answer's body is read up to this many bytes, for the message. */
const MAX_ERROR_BODY = 16 * 1024

export function minioClient(settings: S3Settings): Client {
  const url = new URL(settings.endpoint)
  const useSSL = url.protocol === 'https:'
  return new Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: settings.accessKey,
    secretKey: settings.secretKey,
    // Known up front, so signing never asks the server for the bucket's region.
    region: settings.region,
    pathStyle: true,
  })
}

/** The body of an error answer, cut short: S3 explains refusals in a small XML document. */
async function errorText(response: http.IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of response) {
    if (text.length < MAX_ERROR_BODY) text += String(chunk)
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1]
  return code ?? text.slice(0, 200)
}

export class S3DocumentStore implements DocumentStore {
  readonly driver = 's3' as const
  readonly client: Client
  readonly bucket: string
  private readonly region: string
  private readonly agent: http.Agent

  constructor(settings: S3Settings) {
    this.client = minioClient(settings)
    this.bucket = settings.bucket
    this.region = settings.region
    const secure = new URL(settings.endpoint).protocol === 'https:'
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
  }

  /** The object's name in the bucket. */
  objectName(key: string): string {
    assertStorageKey(key)
    return `${PREFIX}${key}`
  }

  async init(): Promise<void> {
    if (await this.client.bucketExists(this.bucket)) return
    try {
      await this.client.makeBucket(this.bucket, this.region)
    } catch (err) {
      // Another replica made it in the meantime.
      if (!(await this.client.bucketExists(this.bucket))) throw err
    }
  }

  async put(key: string, source: Readable, options: PutOptions): Promise<void> {
    const url = new URL(
      await this.client.presignedPutObject(this.bucket, this.objectName(key), PRESIGN_SECONDS),
    )
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'PUT',
      agent: this.agent,
      headers: { 'content-length': String(options.size), 'content-type': options.contentType },
    })
    let refusal: Error | undefined
    const answered = new Promise<void>((resolve, reject) => {
      request.once('error', reject)
      request.once('response', (response) => {
        if (response.statusCode === 200) {
          response.resume()
          resolve()
          return
        }
        errorText(response).then((why) => {
          refusal = new Error(`S3 refused the PUT of ${key}: ${response.statusCode} ${why}`)
          reject(refusal)
        }, reject)
      })
    })
    const sent = pipeline(source, new ExactLength(options.size), request).catch((err) => {
      request.destroy(err)
      throw err
    })
    const [sending, answer] = await Promise.allSettled([sent, answered])
    // The server's refusal says most; else what broke the sending (the source, say); else
    // what broke the answer (the connection).
    if (refusal) throw refusal
    if (sending.status === 'rejected') throw sending.reason
    if (answer.status === 'rejected') throw answer.reason
  }

  putFile(key: string, file: string, options: PutOptions): Promise<void> {
    return putFileByStream(this, key, file, options)
  }

  async open(key: string): Promise<StoredObject | undefined> {
    try {
      return { stream: await this.client.getObject(this.bucket, this.objectName(key)) }
    } catch (err) {
      if (err instanceof S3Error && (err.code === 'NoSuchKey' || err.code === 'NotFound')) {
        return undefined
      }
      throw err
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, this.objectName(key))
  }

  async check(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) {
      throw new Error(`bucket ${this.bucket} does not exist`)
    }
  }

  /** Closes idle kept-alive connections (at shutdown). */
  close(): void {
    this.agent.destroy()
  }
}
