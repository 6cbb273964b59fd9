// The operator command for dead letters:
//   pnpm --filter @tms/bus dead-letters list <consumer>            e.g. user-wallet.booking
//   pnpm --filter @tms/bus dead-letters replay <consumer> [event-id]
// It reads AMQP_URL and BUS_PREFIX like the services do.
import { env, loadConfig } from '@tms/config'
import { listDeadLetters, replayDeadLetters } from '../src/dead-letters.ts'

const config = loadConfig({
  amqpUrl: env.url('AMQP_URL', {
    protocols: ['amqp:', 'amqps:'],
    devDefault: 'amqp://guest:guest@127.0.0.1:5672',
  }),
  prefix: env.string('BUS_PREFIX', { default: 'tms.' }),
})
const [action, consumer, eventId] = process.argv.slice(2)

if (action === 'list' && consumer) {
  const letters = await listDeadLetters(config.amqpUrl, config.prefix, consumer)
  for (const l of letters) {
    console.log(
      JSON.stringify({
        id: l.messageId,
        type: l.type,
        attempts: l.attempts,
        failed_at: l.failedAt,
        error: l.error,
      }),
    )
  }
  console.log(`${letters.length} dead letter(s) in ${config.prefix}${consumer}.dlq`)
} else if (action === 'replay' && consumer) {
  const n = await replayDeadLetters(config.amqpUrl, config.prefix, consumer, eventId)
  console.log(`replayed ${n} dead letter(s) into ${config.prefix}${consumer}`)
} else {
  console.error('usage: dead-letters list <consumer> | replay <consumer> [event-id]')
  process.exit(64)
}
