// The wallet's double-entry rules, free of any database: which accounts a movement touches, by
// how much, and whether the balances after it are allowed. The posting code (db/ledger.ts)
// locks the accounts, asks applyMovement, and writes what it returns.

export const accountKinds = ['available', 'held', 'platform', 'external'] as const
export type AccountKind = (typeof accountKinds)[number]

export const transactionKinds = ['deposit', 'debit', 'hold', 'release', 'capture'] as const
export type TransactionKind = (typeof transactionKinds)[number]

/** A user's own account, or one of the two system accounts. */
export type AccountRef =
  | { kind: 'available' | 'held'; userId: string }
  | { kind: 'platform' | 'external' }

export interface Entry {
  account: AccountRef
  /** Minor units; positive credits the account, negative debits it. */
  amount: number
}

export interface Movement {
  kind: TransactionKind
  entries: Entry[]
}

/**
 * Amounts stay far below 2^53 so no sum of them loses precision in a JS number: one movement is
 * at most 10^12 minor units (ten billion dollars), a balance at most 2^53 - 1.
 */
export const MAX_AMOUNT = 1_000_000_000_000

export class InvalidAmountError extends Error {
  override name = 'InvalidAmountError'
}

/** The movement would take a non-external account below zero. */
export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError'
  readonly account: AccountRef
  readonly balance: number
  readonly needed: number
  constructor(account: AccountRef, balance: number, needed: number) {
    super(`the ${account.kind} balance ${balance} cannot cover ${needed}`)
    this.account = account
    this.balance = balance
    this.needed = needed
  }
}

export function accountKey(ref: AccountRef): string {
  return 'userId' in ref ? `${ref.kind}:${ref.userId}` : ref.kind
}

/** Only `external` (money entering or leaving the system) may go below zero. */
export function mayGoNegative(kind: AccountKind): boolean {
  return kind === 'external'
}

function checkAmount(amount: number, what = 'amount', { zero = false } = {}): void {
  if (!Number.isSafeInteger(amount) || amount < (zero ? 0 : 1) || amount > MAX_AMOUNT) {
    throw new InvalidAmountError(
      `${what} must be a whole number of minor units from ${zero ? 0 : 1} to ${MAX_AMOUNT}`,
    )
  }
}

const available = (userId: string): AccountRef => ({ kind: 'available', userId })
const held = (userId: string): AccountRef => ({ kind: 'held', userId })
const external: AccountRef = { kind: 'external' }
const platform: AccountRef = { kind: 'platform' }

/** Zero entries say nothing; a movement keeps only the ones that move money. */
function movement(kind: TransactionKind, entries: Entry[]): Movement {
  return { kind, entries: entries.filter((e) => e.amount !== 0) }
}

/** Money entering the system: external → the user's available. */
export function deposit(userId: string, amount: number): Movement {
  checkAmount(amount)
  return movement('deposit', [
    { account: external, amount: -amount },
    { account: available(userId), amount },
  ])
}

/** A manual debit: the user's available → external. */
export function debit(userId: string, amount: number): Movement {
  checkAmount(amount)
  return movement('debit', [
    { account: available(userId), amount: -amount },
    { account: external, amount },
  ])
}

/** Reserving money for a session: available → held. */
export function hold(userId: string, amount: number): Movement {
  checkAmount(amount, 'amount', { zero: true })
  return movement('hold', [
    { account: available(userId), amount: -amount },
    { account: held(userId), amount },
  ])
}

/** Giving reserved money back: held → available. */
export function release(userId: string, amount: number): Movement {
  checkAmount(amount, 'amount', { zero: true })
  return movement('release', [
    { account: held(userId), amount: -amount },
    { account: available(userId), amount },
  ])
}

/** Paying a session: the student's held → the tutor's available (price − fee) and platform (fee). */
export function capture(studentId: string, tutorId: string, price: number, fee: number): Movement {
  checkAmount(price, 'price', { zero: true })
  checkAmount(fee, 'fee', { zero: true })
  if (fee > price) throw new InvalidAmountError('the fee cannot exceed the price')
  return movement('capture', [
    { account: held(studentId), amount: -price },
    { account: available(tutorId), amount: price - fee },
    { account: platform, amount: fee },
  ])
}

/** Every movement's entries sum to zero; a builder bug must never reach the ledger. */
export function isBalanced(m: Movement): boolean {
  return m.entries.reduce((sum, e) => sum + e.amount, 0) === 0
}

/**
 * The balances after the movement, keyed by accountKey, for the accounts it touches; throws
 * InsufficientFundsError when a non-external account would go below zero. `balances` holds
 * the current (locked) balance of every touched account except external.
 */
export function applyMovement(
  balances: ReadonlyMap<string, number>,
  m: Movement,
): Map<string, number> {
  if (!isBalanced(m)) throw new Error(`unbalanced ${m.kind} movement`)
  const after = new Map<string, number>()
  const needed = new Map<string, number>()
  for (const { account, amount } of m.entries) {
    if (mayGoNegative(account.kind)) continue
    const key = accountKey(account)
    const before = after.get(key) ?? balances.get(key)
    if (before === undefined) throw new Error(`no balance for account ${key}`)
    after.set(key, before + amount)
    if (amount < 0) needed.set(key, (needed.get(key) ?? 0) - amount)
  }
  for (const { account } of m.entries) {
    const key = accountKey(account)
    const value = after.get(key)
    if (value === undefined) continue
    if (value < 0) {
      throw new InsufficientFundsError(account, balances.get(key) ?? 0, needed.get(key) ?? 0)
    }
    if (!Number.isSafeInteger(value)) throw new InvalidAmountError(`balance of ${key} overflows`)
  }
  return after
}
