// The tables of tutor documents and of the intents and tombstones that keep the store in step
// with them (the scheme: documents.ts). Apart from schema.ts, which extends DocumentTables,
// because documents.ts needs the whole schema's type.
import type { DocumentKind, DocumentStatus } from '../domain/profiles.ts'

export interface DocumentTable {
  id: string
  profile_id: string
  kind: DocumentKind
  /** Generated (see storage/store.ts), never from client input. */
  storage_key: string
  /** The client's name, made safe (storage/filename.ts); only for Content-Disposition. */
  filename: string
  /** Decided from the bytes. */
  content_type: string
  size: number
  /** Hex SHA-256 of the bytes, computed while they streamed in. */
  sha256: string
  status: DocumentStatus
  review_note: string | null
  reviewed_by: string | null
  reviewed_at: Date | null
  created_at: Date
  updated_at: Date
}

export interface StorageMarkTable {
  storage_key: string
  created_at: Date
}

export interface DocumentTables {
  tutor_documents: DocumentTable
  document_intents: StorageMarkTable
  document_tombstones: StorageMarkTable
}
