// What the academic use-cases work with; app.ts makes it from the service's context.
import type { Bus } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { AcademicConfig } from '../config.ts'
import type { AcademicDatabase } from '../db/schema.ts'

export interface AcademicDeps {
  db: Kysely<AcademicDatabase>
  clock: Clock
  /** Events go through the outbox, in the transaction of the change they describe. */
  bus: Pick<Bus<AcademicDatabase>, 'enqueue'>
  settings: AcademicConfig
}

/** Who calls, as the access token says. */
export type { AccessTokenUser as Caller } from '@tms/jwt'
