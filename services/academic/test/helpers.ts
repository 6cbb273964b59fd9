// The academic service as main.ts starts it (startTestService): its own database and broker
// prefix, its bus started with its consumers, tokens from a test issuer whose keys it fetches as
// it would from auth, and events published as their producers (auth, the wallet) would.
import type { BusOptions } from '@tms/bus'
import type { ConsumerQueue, Role } from '@tms/contracts'
import { eventFeed, startTestService } from '@tms/kit/testing'
import { createLogger } from '@tms/logging'
import { createTestIssuer, type TestClock, type TestContext } from '@tms/testing'
import type { AppDeps } from '../src/app.ts'
import type { AcademicConfig } from '../src/config.ts'
import type { AcademicDatabase } from '../src/db/schema.ts'
import { academic } from '../src/main.ts'

export const logger = createLogger({
  service: 'academic-test',
  level: process.env.LOG_LEVEL ?? 'silent',
})

export interface AcademicServiceOptions {
  clock?: TestClock
  /** Settings over the test defaults (a fee, S3, …). */
  config?: Partial<AcademicConfig>
  /** Replaces what start() would give the app. */
  overrides?: Partial<AppDeps>
  /** A broker prefix shared with another service (the wallet beside it); a fresh one otherwise. */
  broker?: { url: string; prefix: string }
  /** Bus options over the test's (a relay left off, a hook on each settled event). */
  bus?: Partial<BusOptions<AcademicDatabase>>
}

export async function academicService(t: TestContext, options: AcademicServiceOptions = {}) {
  const issuer = await createTestIssuer()
  const jwksUrl = await issuer.serveJwks(t)
  const feed = eventFeed(options.bus?.onProcessed)
  const service = await startTestService(t, academic, {
    config: {
      jwtIssuer: issuer.issuer,
      jwksUrl,
      currency: 'usd',
      retryDelaysMs: [50, 100, 200, 400],
      ...options.config,
    },
    logger,
    clock: options.clock,
    overrides: options.overrides,
    broker: options.broker,
    bus: {
      relay: { pollIntervalMs: 50 },
      reconnectMs: 200,
      ...options.bus,
      onProcessed: feed.onProcessed,
    },
  })
  await feed.connect(t, service)
  return {
    ...service,
    /** An access token for the user, as auth would sign it. */
    token(user: { id: string; role: Role; username?: string }): Promise<string> {
      return issuer.mint({
        sub: user.id,
        role: user.role,
        username: user.username ?? `u_${user.id}`.slice(0, 32),
      })
    },
    /** Publishes an event as its producer would; returns its id. */
    publish: feed.publish,
    /** Waits until `consumer` has handled n events in all, and every copy sent is settled. */
    handled: (consumer: ConsumerQueue, n: number) => feed.handled(consumer, n),
  }
}

export type AcademicService = Awaited<ReturnType<typeof academicService>>

/** A user as auth's registration event makes it, published and handled. */
export async function registerUser(
  service: AcademicService,
  user: { id: string; role: Role; username?: string; name?: string | null },
) {
  await service.publish('auth.user.registered', {
    user_id: user.id,
    username: user.username ?? `user_${user.id}`.toLowerCase().slice(0, 32),
    email: `${user.id}@example.com`.toLowerCase(),
    role: user.role,
    name: user.name ?? null,
    phone: null,
  })
}
