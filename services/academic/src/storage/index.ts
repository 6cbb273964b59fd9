// The document store the configuration asks for: S3 when S3_ENDPOINT is set, else the local
// disk under DATA_DIR.
import { LocalDocumentStore } from './local.ts'
import { S3DocumentStore, type S3Settings } from './s3.ts'
import type { DocumentStore } from './store.ts'

export interface StoreSettings {
  dataDir: string
  /** Set when S3_ENDPOINT is. */
  s3: S3Settings | undefined
}

export function createDocumentStore(settings: StoreSettings): DocumentStore {
  return settings.s3 ? new S3DocumentStore(settings.s3) : new LocalDocumentStore(settings.dataDir)
}
