// Operator tools for a consumer's dead-letter queue: list what is parked there and why, and
// replay it (all, or one event by id) into the consumer's queue with a fresh retry budget.
import amqplib from 'amqplib'
import { headers } from './retries.ts'
import { consumerNames } from './topology.ts'

export interface DeadLetter {
  messageId: string | undefined
  type: string | undefined
  error: string | undefined
  failedAt: string | undefined
  attempts: number
  body: string
}

async function withChannel<T>(
  url: string,
  fn: (ch: amqplib.ConfirmChannel) => Promise<T>,
): Promise<T> {
  const conn = await amqplib.connect(url)
  try {
    const ch = await conn.createConfirmChannel()
    return await fn(ch)
  } finally {
    // Closing returns every message got but not acked to the queue, in place.
    await conn.close()
  }
}

function describe(msg: amqplib.GetMessage): DeadLetter {
  const h = msg.properties.headers ?? {}
  return {
    messageId: msg.properties.messageId,
    type: msg.properties.type,
    error: h[headers.error] === undefined ? undefined : String(h[headers.error]),
    failedAt: h[headers.failedAt] === undefined ? undefined : String(h[headers.failedAt]),
    attempts: Number(h[headers.attempt] ?? 0),
    body: msg.content.toString('utf8'),
  }
}

/** What a consumer's dead-letter queue holds, without removing it. */
export async function listDeadLetters(
  url: string,
  prefix: string,
  consumer: string,
  limit = 100,
): Promise<DeadLetter[]> {
  const { dlq } = consumerNames(prefix, consumer, [])
  return withChannel(url, async (ch) => {
    const found: DeadLetter[] = []
    while (found.length < limit) {
      const msg = await ch.get(dlq, { noAck: false })
      if (!msg) break
      found.push(describe(msg))
    }
    return found
  })
}

/**
 * Moves dead letters back to the consumer's queue (only the one whose message id is eventId,
 * when given). Each is acked only after the broker confirmed its re-publish.
 */
export async function replayDeadLetters(
  url: string,
  prefix: string,
  consumer: string,
  eventId?: string,
): Promise<number> {
  const names = consumerNames(prefix, consumer, [])
  return withChannel(url, async (ch) => {
    let replayed = 0
    for (;;) {
      const msg = await ch.get(names.dlq, { noAck: false })
      if (!msg) break
      if (eventId && msg.properties.messageId !== eventId) continue
      const {
        [headers.attempt]: _a,
        [headers.error]: _e,
        [headers.failedAt]: _f,
        ...rest
      } = msg.properties.headers ?? {}
      ch.sendToQueue(names.queue, msg.content, {
        ...msg.properties,
        headers: rest,
        persistent: true,
      })
      await ch.waitForConfirms()
      ch.ack(msg)
      replayed++
    }
    return replayed
  })
}
