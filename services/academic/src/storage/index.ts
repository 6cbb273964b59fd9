// The document store the configuration asks for: S3 when S3_ENDPOINT is set, else the local
// disk under DATA_DIR.
import type { AcademicConfig } from '../config.ts'
import { LocalDocumentStore } from './local.ts'
import { S3DocumentStore } from './s3.ts'
import type { DocumentStore } from './store.ts'

export type StoreSettings = Pick<
  AcademicConfig,
  'dataDir' | 's3Endpoint' | 's3AccessKey' | 's3SecretKey' | 's3Bucket' | 's3Region'
>

export function createDocumentStore(config: StoreSettings): DocumentStore {
  if (!config.s3Endpoint) return new LocalDocumentStore(config.dataDir)
  return new S3DocumentStore({
    endpoint: config.s3Endpoint,
    accessKey: config.s3AccessKey ?? '',
    secretKey: config.s3SecretKey ?? '',
    bucket: config.s3Bucket,
    region: config.s3Region,
  })
}
