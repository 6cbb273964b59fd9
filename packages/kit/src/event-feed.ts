// A service's events in tests: into it as their producers would publish them, with a wait until
// a consumer has handled them with every copy settled (re-sent copies included, so that no copy
// is still in flight when a test looks); and out of it, as its outbox holds them.
import { type BusTables, exchangeName, type Outcome } from '@tms/bus'
import { type Envelope, type EventData, type EventType, makeEnvelope } from '@tms/contracts'
import type { Kysely } from '@tms/db'
import { eventually, type TestContext } from '@tms/testing'
import amqplib, { type ConfirmChannel } from 'amqplib'

export type EventFeed = ReturnType<typeof eventFeed>

/**
 * A feed for one service: give `onProcessed` to the service's bus options (it counts the
 * copies the bus has finished with, then calls `then`), and `connect` it once started.
 */
export function eventFeed(then?: (outcome: Outcome, event: Envelope | undefined) => void) {
  let sent = 0
  let settled = 0
  let target: { channel: ConfirmChannel; prefix: string; db: Kysely<BusTables> } | undefined
  const connected = () => {
    if (!target) throw new Error('the event feed is not connected: call connect() first')
    return target
  }
  return {
    onProcessed(outcome: Outcome, event: Envelope | undefined): void {
      // Retried and deferred copies come back; the others are done with.
      if (outcome !== 'retried' && outcome !== 'deferred') settled++
      then?.(outcome, event)
    },

    /** Opens a link of its own to the service's broker (closed at teardown). */
    async connect<DB extends BusTables>(
      t: TestContext,
      service: { db: Kysely<DB>; broker: { url: string; prefix: string } },
    ): Promise<void> {
      const conn = await amqplib.connect(service.broker.url)
      t.teardown(() => conn.close())
      target = {
        channel: await conn.createConfirmChannel(),
        prefix: service.broker.prefix,
        db: service.db as unknown as Kysely<BusTables>,
      }
    },

    /** Publishes an event (`copies` times, one id) as `producer` would; returns its id. */
    async publish<T extends EventType>(
      type: T,
      data: EventData<T>,
      { copies = 1, producer = type.split('.')[0] ?? 'test' } = {},
    ): Promise<string> {
      const { channel, prefix } = connected()
      const envelope = makeEnvelope(type, data, { producer })
      for (let i = 0; i < copies; i++) {
        sent++
        channel.publish(exchangeName(prefix), type, Buffer.from(JSON.stringify(envelope)), {
          persistent: true,
          messageId: envelope.id,
        })
      }
      await channel.waitForConfirms()
      return envelope.id
    },

    /** Waits until `consumer` has handled n events in all, and every copy sent is settled. */
    async handled(consumer: string, n: number): Promise<void> {
      const { db } = connected()
      await eventually(
        async () => {
          const r = await db
            .selectFrom('bus_inbox')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('consumer', '=', consumer)
            .executeTakeFirstOrThrow()
          return Number(r.n) >= n && settled >= sent
        },
        { what: `${n} events of ${consumer} handled and every copy settled` },
      )
    },
  }
}

/** An event as a service's outbox holds it. */
export interface OutboxEvent {
  id: string
  type: string
  correlation_id: string
  data: Record<string, unknown>
}

/** The events the service wrote to its outbox, oldest first. */
export async function outboxEvents<DB extends BusTables>(db: Kysely<DB>): Promise<OutboxEvent[]> {
  const rows = await (db as unknown as Kysely<BusTables>)
    .selectFrom('bus_outbox')
    .select('envelope')
    .orderBy('seq')
    .execute()
  return rows.map((r) => JSON.parse(r.envelope) as OutboxEvent)
}
