// What the academic use-cases work with; app.ts makes it from the service's context.
import type { Bus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { Logger } from '@tms/logging'
import type { AcademicConfig } from '../config.ts'
import type { AcademicDatabase } from '../db/schema.ts'
import type { DocumentStore } from '../storage/store.ts'

export interface AcademicDeps {
  db: Kysely<AcademicDatabase>
  clock: Clock
  /** Events go through the outbox, in the transaction of the change they describe. */
  bus: Pick<Bus<AcademicDatabase>, 'enqueue'>
  settings: AcademicConfig
  logger: Logger
  /** Where documents' bytes live (storage/): the local disk or S3. */
  store: DocumentStore
  /** Test hook: runs after an upload's objects are stored, before they are recorded. */
  afterStore?: () => Promise<void>
}

/** Who calls, as the access token says. */
export type { AccessTokenUser as Caller } from '@tms/jwt'
