// Objects in the store and rows in the database, kept in step (see db/documents.ts for the
// scheme): uploads are announced by intents before they are written, deletions leave
// tombstones until their objects are gone, and the sweep finishes what a crash or an error left.
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { transaction } from '@tms/db'
import type { Job } from '@tms/kit'
import type { AcademicConfig } from '../config.ts'
import { lockStaleMarks, mark, unmark } from '../db/documents.ts'
import { StoreUnavailableError } from '../domain/profiles.ts'
import { newStorageKey, temporaryDirectory } from '../storage/store.ts'
import type { SpooledUpload } from '../storage/upload.ts'
import type { AcademicDeps } from './deps.ts'

export type ObjectDeps = Pick<AcademicDeps, 'db' | 'store' | 'clock' | 'logger'>

/**
 * Writes spooled uploads to the store under new keys: the intents of all of them are committed
 * first, so an object written is always known to the database. On failure whatever was written
 * is removed before this throws (what cannot be is left to the sweep). The caller records the
 * documents and calls `unmark(trx, 'document_intents', keys)` in the same transaction.
 */
export async function storeUploads(
  deps: ObjectDeps,
  uploads: readonly SpooledUpload[],
): Promise<string[]> {
  const keys = uploads.map(() => newStorageKey())
  await mark(deps.db, 'document_intents', keys, deps.clock.now())
  try {
    for (const [i, upload] of uploads.entries()) {
      await deps.store.putFile(keys[i] as string, upload.file, {
        size: upload.size,
        contentType: upload.type.contentType,
      })
    }
  } catch (err) {
    await discardUploads(deps, keys)
    throw new StoreUnavailableError(err)
  }
  return keys
}

/** Removes stored uploads whose documents were never recorded, then their intents. */
export async function discardUploads(deps: ObjectDeps, keys: readonly string[]): Promise<void> {
  try {
    for (const key of keys) await deps.store.delete(key)
    await unmark(deps.db, 'document_intents', keys)
  } catch (err) {
    deps.logger.warn({ err, keys }, 'uploads not removed; the document sweep will')
  }
}

/**
 * After the commit that deleted documents and tombstoned their keys: deletes the objects, then
 * the tombstones. A failure is logged and left to the sweep; the deletion itself has happened.
 */
export async function removeObjects(deps: ObjectDeps, keys: readonly string[]): Promise<void> {
  try {
    for (const key of keys) await deps.store.delete(key)
    await unmark(deps.db, 'document_tombstones', keys)
  } catch (err) {
    deps.logger.warn({ err, keys }, 'objects not removed yet; the document sweep will')
  }
}

export interface SweepOptions {
  /**
   * An intent older than this is an upload that will never commit. Longer than any upload may
   * take (the request timeout plus writing to the store); a commit that comes later anyway
   * finds its intent gone and fails rather than record a missing object.
   */
  graceMs: number
  /** Marks per transaction. */
  batchSize?: number
  /** A directory of spool and partial files (local to this replica) to clear of old ones. */
  temporaryDir?: string
}

export interface SweepResult {
  intents: number
  tombstones: number
  temporaryFiles: number
}

/**
 * Deletes the objects of stale intents and of leftover tombstones, then the marks, in batches
 * until none is left (so a run after downtime catches up), and temporary files older than the
 * grace period. Safe in several replicas at once: each batch locks its marks with SKIP LOCKED,
 * so two replicas never take the same ones; deleting an object twice would be harmless anyway.
 */
export async function sweepDocuments(
  deps: ObjectDeps,
  options: SweepOptions,
): Promise<SweepResult> {
  const before = new Date(deps.clock.now().getTime() - options.graceMs)
  const limit = options.batchSize ?? 100
  const sweepTable = async (table: 'document_intents' | 'document_tombstones') => {
    let swept = 0
    for (;;) {
      const n = await transaction(
        deps.db,
        async (trx) => {
          const stale = await lockStaleMarks(trx, table, before, limit)
          // Deleting an object is idempotent: a transaction retried after a deadlock may redo it.
          for (const { storage_key } of stale) await deps.store.delete(storage_key)
          await unmark(
            trx,
            table,
            stale.map((m) => m.storage_key),
          )
          return stale.length
        },
        // Locks on the rows taken only, no gap locks: replicas' batches do not deadlock.
        { isolationLevel: 'read committed' },
      )
      swept += n
      if (n < limit) return swept
    }
  }
  const intents = await sweepTable('document_intents')
  const tombstones = await sweepTable('document_tombstones')
  const temporaryFiles = options.temporaryDir
    ? await removeOldFiles(options.temporaryDir, before)
    : 0
  return { intents, tombstones, temporaryFiles }
}

/** Removes the files of `dir` last modified before `before`; how many. */
async function removeOldFiles(dir: string, before: Date): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  let removed = 0
  for (const name of names) {
    const file = path.join(dir, name)
    const info = await stat(file).catch(() => undefined)
    if (info?.isFile() && info.mtime < before) {
      await rm(file, { force: true })
      removed++
    }
  }
  return removed
}

/**
 * The sweep as a job of the kit: at start-up (catching up), then every DOCUMENT_SWEEP_EVERY_MS.
 * Replica-safe: each batch of marks is locked FOR UPDATE SKIP LOCKED (see sweepDocuments).
 */
export function documentSweepJob(deps: ObjectDeps, config: AcademicConfig): Job {
  return {
    name: 'document-sweep',
    everyMs: config.documentSweepEveryMs,
    run: () =>
      sweepDocuments(deps, {
        graceMs: config.documentSweepGraceMs,
        temporaryDir: temporaryDirectory(config.dataDir),
      }),
  }
}
