// Names and arguments of everything the bus declares. Quorum queues, dead-lettering
// at-least-once (which needs reject-publish overflow), one TTL queue per retry step whose
// expired messages go back to the consumer's queue, and a dead-letter queue per consumer.
import type { Channel } from 'amqplib'
import type { Topology } from './handlers.ts'

export interface ConsumerNames {
  queue: string
  dlq: string
  retry: { queue: string; delayMs: number }[]
}

export function exchangeName(prefix: string): string {
  return `${prefix}events`
}

export function consumerNames(
  prefix: string,
  consumer: string,
  retryDelaysMs: number[],
): ConsumerNames {
  const queue = `${prefix}${consumer}`
  return {
    queue,
    dlq: `${queue}.dlq`,
    // The delay is in the name: a queue's TTL cannot change once declared, so new delays
    // declare new queues instead of failing on the old ones.
    retry: retryDelaysMs.map((delayMs, i) => ({
      queue: `${queue}.retry${i + 1}.${delayMs}ms`,
      delayMs,
    })),
  }
}

const quorum = {
  'x-queue-type': 'quorum',
  'x-dead-letter-strategy': 'at-least-once',
  'x-overflow': 'reject-publish',
}

/** A message redelivered this often without an ack (a crash loop) is dead-lettered. */
export const DELIVERY_LIMIT = 20

/** The consumer's queue and its dead-letter queue, bound to its event types (the exchange exists). */
export async function declareConsumerQueues(
  channel: Channel,
  prefix: string,
  consumer: string,
  eventTypes: readonly string[],
): Promise<void> {
  const names = consumerNames(prefix, consumer, [])
  await channel.assertQueue(names.dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
  await channel.assertQueue(names.queue, {
    durable: true,
    arguments: {
      ...quorum,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': names.dlq,
      'x-delivery-limit': DELIVERY_LIMIT,
    },
  })
  for (const type of eventTypes) await channel.bindQueue(names.queue, exchangeName(prefix), type)
}

/** The retry queues of a consumer: messages wait out their TTL, then return to its queue. */
export async function declareRetryQueues(channel: Channel, names: ConsumerNames): Promise<void> {
  for (const step of names.retry) {
    await channel.assertQueue(step.queue, {
      durable: true,
      arguments: {
        ...quorum,
        'x-message-ttl': step.delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.queue,
      },
    })
  }
}

/**
 * Everything a service declares on each (re)connect: the exchange, every consumer's queue of the
 * topology (so an event published before its consumer first started waits for it), and the
 * retry queues of the consumers this process runs.
 */
export async function declareTopology(
  channel: Channel,
  prefix: string,
  topology: Topology,
  retryQueuesOf: ConsumerNames[],
): Promise<void> {
  await channel.assertExchange(exchangeName(prefix), 'topic', { durable: true })
  for (const [consumer, types] of Object.entries(topology)) {
    await declareConsumerQueues(channel, prefix, consumer, types)
  }
  for (const names of retryQueuesOf) await declareRetryQueues(channel, names)
}
