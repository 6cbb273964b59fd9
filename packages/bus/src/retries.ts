// Where a message goes when it was not handled: the retry queue of its attempt (a failure, or a
// RetryLater that is logged as a wait, not an error), or, with the steps used up or a contract
// broken, the dead-letter queue with the reason. The consumer moves it there, confirmed, before
// it acks the original.
import type { Clock } from '@tms/clock'
import { ContractError } from '@tms/contracts'
import type { Logger } from '@tms/logging'
import type { ConsumeMessage, Options } from 'amqplib'
import { RetryLater } from './handlers.ts'
import type { ConsumerNames } from './topology.ts'

/** Headers the bus puts on messages it moves between its queues. */
export const headers = {
  attempt: 'x-tms-attempt',
  error: 'x-tms-error',
  failedAt: 'x-tms-failed-at',
}

export interface Move {
  outcome: 'deferred' | 'retried' | 'dead-lettered'
  queue: string
  properties: Options.Publish
}

function errorText(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 1000)
}

/** The move for a message whose handler threw err; logs it at the level it deserves. */
export function retryOrDeadLetter(
  msg: ConsumeMessage,
  err: unknown,
  names: ConsumerNames,
  clock: Clock,
  log: Logger,
): Move {
  const attempt = Number(msg.properties.headers?.[headers.attempt] ?? 0)
  const step = names.retry[attempt]
  const notYet = err instanceof RetryLater
  if (err instanceof ContractError || !step) {
    log.error(
      { err, attempt },
      notYet
        ? 'still cannot be decided after every retry: dead-lettered'
        : 'handler failed for good: dead-lettered',
    )
    return deadLetter(msg, err, names, clock)
  }
  const fields = { attempt: attempt + 1, delay_ms: step.delayMs }
  if (notYet) log.info({ ...fields, reason: err.message }, 'not yet: retrying later')
  else log.warn({ ...fields, err }, 'handler failed: retrying later')
  return {
    outcome: notYet ? 'deferred' : 'retried',
    queue: step.queue,
    properties: {
      ...msg.properties,
      persistent: true,
      headers: {
        ...msg.properties.headers,
        [headers.attempt]: attempt + 1,
        [headers.error]: errorText(err),
      },
    },
  }
}

/** The move to the dead-letter queue, with the reason and the time. */
export function deadLetter(
  msg: ConsumeMessage,
  err: unknown,
  names: ConsumerNames,
  clock: Clock,
): Move {
  return {
    outcome: 'dead-lettered',
    queue: names.dlq,
    properties: {
      ...msg.properties,
      persistent: true,
      headers: {
        ...msg.properties.headers,
        [headers.error]: errorText(err),
        [headers.failedAt]: clock.now().toISOString(),
      },
    },
  }
}
