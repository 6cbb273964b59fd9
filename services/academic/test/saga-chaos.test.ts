// The same flows as saga.test.ts with every event of both services delivered twice, each copy
// after a random delay (so out of order): the inboxes drop the copies, the rules of both sides
// make any order come out right, and every money step still happens once. CHAOS_SEED replays
// a run.
import t from 'tap'
import { bookingSystem } from './saga-helpers.ts'
import { scenarios } from './saga-scenarios.ts'

t.test('the booking saga, every event twice and out of order', async (t) => {
  const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : undefined
  const sys = await bookingSystem(t, { chaos: true, seed })
  for (const [name, scenario] of Object.entries(scenarios)) {
    await t.test(name, (t) => scenario(t, sys))
  }
  t.same(await sys.ledgerProblems(), [])
  // The run was what it says: every event went out twice, and many overtook earlier ones.
  const handled = await sys.wallet.db
    .selectFrom('bus_inbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  t.ok(Number(handled.n) > 0)
  t.ok(sys.chaos && sys.chaos.inversions > 0, `events out of order: ${JSON.stringify(sys.chaos)}`)
  t.ok(sys.chaos && sys.chaos.duplicates > 0, 'second copies arrived and were dropped')
})
