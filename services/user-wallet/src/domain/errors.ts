// What the wallet's use-cases refuse with (the ledger's own, InsufficientFundsError and
// InvalidAmountError, stand next to its rules in ledger.ts); routes/problems.ts says which
// HTTP problem each one is.

/** No such user, or one the caller may not see: the same answer, so existence is not told. */
export class NoSuchUserError extends Error {
  override name = 'NoSuchUserError'
  constructor() {
    super('no such user')
  }
}

/** The caller's own profile has not arrived yet (it follows the registered event). */
export class ProfileNotYetError extends Error {
  override name = 'ProfileNotYetError'
  constructor() {
    super('the profile does not exist yet; it follows signup shortly')
  }
}

/** A profile made by hand that differs from the one with that id or username. */
export class ProfileConflictError extends Error {
  override name = 'ProfileConflictError'
  constructor() {
    super('a different profile exists for this id or username')
  }
}

/** A deposit in a currency other than the deployment's one. */
export class WrongCurrencyError extends Error {
  override name = 'WrongCurrencyError'
  readonly currency: string
  constructor(currency: string) {
    super(`this deployment's currency is ${currency}`)
    this.currency = currency
  }
}

/** Not an admin here: the token and the profile must both say so (domain/access.ts). */
export class NotAdminError extends Error {
  override name = 'NotAdminError'
  constructor() {
    super('this action is for admin accounts')
  }
}
