import t from 'tap'
import {
  applyMovement,
  capture,
  debit,
  deposit,
  hold,
  InsufficientFundsError,
  InvalidAmountError,
  isBalanced,
  MAX_AMOUNT,
  release,
} from '../src/domain/ledger.ts'

const sum = (m: { entries: { amount: number }[] }) => m.entries.reduce((s, e) => s + e.amount, 0)

t.test('every movement is balanced and touches the SPEC’s accounts', async (t) => {
  const movements = [
    deposit('u', 100),
    debit('u', 40),
    hold('u', 30),
    release('u', 30),
    capture('s', 'tu', 100, 15),
  ]
  for (const m of movements) {
    t.ok(isBalanced(m), `${m.kind} balanced`)
    t.equal(sum(m), 0)
  }
  t.same(
    deposit('u', 100).entries.map((e) => [e.account.kind, e.amount]),
    [
      ['external', -100],
      ['available', 100],
    ],
  )
  t.same(
    capture('s', 'tu', 100, 15).entries.map((e) => [e.account, e.amount]),
    [
      [{ kind: 'held', userId: 's' }, -100],
      [{ kind: 'available', userId: 'tu' }, 85],
      [{ kind: 'platform' }, 15],
    ],
  )
  t.same(
    capture('s', 'tu', 100, 0).entries.map((e) => e.account.kind),
    ['held', 'available'],
    'a zero fee makes no platform entry',
  )
})

t.test('amounts must be whole, positive and bounded', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN, MAX_AMOUNT + 1]) {
    t.throws(() => deposit('u', bad), InvalidAmountError, `deposit ${bad}`)
    t.throws(() => debit('u', bad), InvalidAmountError, `debit ${bad}`)
  }
  t.throws(() => hold('u', -1), InvalidAmountError)
  t.same(hold('u', 0).entries, [], 'a zero hold moves nothing')
  t.throws(() => capture('s', 'tu', 10, 11), InvalidAmountError, 'fee above price')
})

t.test('applyMovement refuses any non-external account going negative', async (t) => {
  const balances = new Map([
    ['available:u', 50],
    ['held:u', 0],
  ])
  t.same([...applyMovement(balances, debit('u', 50))], [['available:u', 0]])
  t.throws(() => applyMovement(balances, debit('u', 51)), InsufficientFundsError)
  t.throws(() => applyMovement(balances, release('u', 1)), InsufficientFundsError, 'held below 0')
  const after = applyMovement(balances, hold('u', 20))
  t.same(Object.fromEntries(after), { 'available:u': 30, 'held:u': 20 })
  // External may go negative: it is not even in the map.
  t.same([...applyMovement(balances, deposit('u', 5))], [['available:u', 55]])
  const err = t.throws(() => applyMovement(balances, hold('u', 60))) as InsufficientFundsError
  t.equal(err.account.kind, 'available')
  t.equal(err.needed, 60)
})

t.test('capture needs the student’s held funds', async (t) => {
  const balances = new Map([
    ['held:s', 100],
    ['available:tu', 0],
    ['platform', 0],
  ])
  const after = applyMovement(balances, capture('s', 'tu', 100, 10))
  t.same(Object.fromEntries(after), { 'held:s': 0, 'available:tu': 90, platform: 10 })
  t.throws(() => applyMovement(balances, capture('s', 'tu', 101, 10)), InsufficientFundsError)
})

t.test('an unbalanced movement never passes', async (t) => {
  const m = {
    kind: 'deposit' as const,
    entries: [{ account: { kind: 'external' as const }, amount: 5 }],
  }
  t.throws(() => applyMovement(new Map(), m), /unbalanced/)
})
