// The booking saga end to end over the real broker, with the user-wallet service beside this
// one (each with its own database, one broker prefix): every flow of the SPEC moves the money
// once, and the wallet's ledger stays balanced.
import t from 'tap'
import { bookingSystem } from './saga-helpers.ts'
import { scenarios } from './saga-scenarios.ts'

t.test('the booking saga with the wallet beside', async (t) => {
  const sys = await bookingSystem(t)
  for (const [name, scenario] of Object.entries(scenarios)) {
    await t.test(name, (t) => scenario(t, sys))
  }
  t.same(await sys.ledgerProblems(), [])
})
