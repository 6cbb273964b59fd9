// Where document bytes live: one small interface, two drivers (local disk, S3/MinIO). The
// database says which objects exist; a store never lists its contents, so it works the same on
// a bucket shared with anything else.
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { type Readable, Transform, type TransformCallback } from 'node:stream'
import { newId } from '@tms/db'

export interface StoredObject {
  /** The object's bytes, streamed: read it or destroy it. */
  stream: Readable
}

export interface PutOptions {
  /** The exact byte count of the source (S3 needs it up front; the local driver checks it). */
  size: number
  contentType: string
}

export interface DocumentStore {
  readonly driver: 'local' | 's3'
  /** Creates what the store needs (directories, the bucket when absent); safe to repeat. */
  init(): Promise<void>
  /**
   * Streams `source` into the object `key`. Afterwards the object is complete, or - when the
   * source or the write fails, and this throws - absent: a half-written object is never
   * readable under its key.
   */
  put(key: string, source: Readable, options: PutOptions): Promise<void>
  /** As put, from a file on the local disk (a spooled upload); the file is left to the caller. */
  putFile(key: string, file: string, options: PutOptions): Promise<void>
  /** The object, or undefined when there is none. */
  open(key: string): Promise<StoredObject | undefined>
  /** Removes the object; an absent one is not an error. */
  delete(key: string): Promise<void>
  /** Throws when the store cannot be reached (readiness). */
  check(): Promise<void>
  /** Lets go of connections (at shutdown). */
  close(): void
}

/**
 * Where a data directory keeps temporary files: spooled uploads and half-written objects of the
 * local driver (on the same disk as its objects, so they are renamed into place).
 */
export function temporaryDirectory(dataDir: string): string {
  return path.join(dataDir, 'tmp')
}

/** Keys are made here, never from client input: a UUID, which is also a safe file name. */
export function newStorageKey(): string {
  return newId()
}

const keyPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Refuses anything that is not a key newStorageKey made: no path or name ever reaches a driver. */
export function assertStorageKey(key: string): void {
  if (!keyPattern.test(key)) throw new Error(`not a storage key: ${JSON.stringify(key)}`)
}

/** putFile for a driver that has nothing better than streaming the file through put. */
export function putFileByStream(
  store: Pick<DocumentStore, 'put'>,
  key: string,
  file: string,
  options: PutOptions,
): Promise<void> {
  return store.put(key, createReadStream(file), options)
}

/** Fails the stream when it carries more or fewer bytes than declared. */
export class ExactLength extends Transform {
  private seen = 0
  private readonly expected: number
  constructor(expected: number) {
    super()
    this.expected = expected
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.seen += chunk.length
    if (this.seen > this.expected) callback(this.mismatch())
    else callback(null, chunk)
  }
  override _flush(callback: TransformCallback) {
    callback(this.seen === this.expected ? null : this.mismatch())
  }
  private mismatch() {
    return new Error(`expected ${this.expected} bytes, the source gave ${this.seen} or more`)
  }
}
