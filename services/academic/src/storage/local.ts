// The local-disk driver (the default): objects are files under DATA_DIR/documents, written to a
// temporary file first and renamed into place once complete and flushed, so a reader never sees
// half an object and a crash leaves at most a temporary file (swept by age, see sweep.ts).
import { constants } from 'node:fs'
import { access, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { newId } from '@tms/db'
import {
  assertStorageKey,
  type DocumentStore,
  ExactLength,
  type PutOptions,
  putFileByStream,
  type StoredObject,
  temporaryDirectory,
} from './store.ts'

/** Flushes a file or directory to the disk. */
async function fsync(file: string, flags: string): Promise<void> {
  const handle = await open(file, flags)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export class LocalDocumentStore implements DocumentStore {
  readonly driver = 'local' as const
  readonly objectsDir: string
  readonly tmpDir: string

  constructor(dataDir: string) {
    this.objectsDir = path.join(dataDir, 'documents')
    this.tmpDir = temporaryDirectory(dataDir)
  }

  /** The object's file: one directory per last two hex digits keeps directories small. */
  pathOf(key: string): string {
    assertStorageKey(key)
    return path.join(this.objectsDir, key.slice(-2), key)
  }

  async init(): Promise<void> {
    await mkdir(this.objectsDir, { recursive: true })
    await mkdir(this.tmpDir, { recursive: true })
  }

  async put(key: string, source: Readable, options: PutOptions): Promise<void> {
    const target = this.pathOf(key)
    await mkdir(this.tmpDir, { recursive: true })
    const partial = path.join(this.tmpDir, `${newId()}.partial`)
    try {
      const handle = await open(partial, 'wx')
      await pipeline(source, new ExactLength(options.size), handle.createWriteStream())
      await this.moveIntoPlace(partial, target)
    } catch (err) {
      await rm(partial, { force: true })
      throw err
    }
  }

  /** Renames the spooled file into place (it is on the same disk); copies when it is not. */
  async putFile(key: string, file: string, options: PutOptions): Promise<void> {
    const target = this.pathOf(key)
    const { size } = await stat(file)
    if (size !== options.size)
      throw new Error(`expected ${options.size} bytes, ${file} has ${size}`)
    try {
      await this.moveIntoPlace(file, target)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
      await putFileByStream(this, key, file, options)
    }
  }

  /** Flushed before the rename and the directory after it: a crash keeps all or nothing. */
  private async moveIntoPlace(file: string, target: string): Promise<void> {
    await fsync(file, 'r+')
    const dir = path.dirname(target)
    await mkdir(dir, { recursive: true })
    await rename(file, target)
    await fsync(dir, 'r')
  }

  async open(key: string): Promise<StoredObject | undefined> {
    try {
      const handle = await open(this.pathOf(key), 'r')
      return { stream: handle.createReadStream() }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true })
  }

  async check(): Promise<void> {
    await access(this.objectsDir, constants.W_OK)
  }

  close(): void {}
}
