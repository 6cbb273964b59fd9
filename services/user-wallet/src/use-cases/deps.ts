// What the wallet's use-cases work with; app.ts makes it from the service's context.
import type { Clock } from '@tms/clock'
import type { Kysely } from '@tms/db'
import type { WalletDatabase } from '../db/schema.ts'

export interface WalletDeps {
  db: Kysely<WalletDatabase>
  clock: Clock
  /** The deployment's one currency (CURRENCY). */
  currency: string
}

/** Who calls, as the access token says. */
export type { AccessTokenUser as Caller } from '@tms/jwt'
