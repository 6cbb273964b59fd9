// What auth's use-cases refuse with. Each says what went wrong in words a client may read;
// routes/problems.ts says which HTTP problem each one is. Nothing below routes/ knows HTTP.

/** A new password the policy refuses (too short, the username…), naming the field. */
export class WeakPasswordError extends Error {
  override name = 'WeakPasswordError'
  readonly field: string
  constructor(field: string, reason: string) {
    super(reason)
    this.field = field
  }
}

/** The username or email belongs to another account. */
export class AccountTakenError extends Error {
  override name = 'AccountTakenError'
}

/** A login whose account does not exist or whose password is wrong: one answer for both. */
export class WrongCredentialsError extends Error {
  override name = 'WrongCredentialsError'
  constructor() {
    super('the username or password is wrong')
  }
}

export class InvalidRefreshTokenError extends Error {
  override name = 'InvalidRefreshTokenError'
  constructor() {
    super('the refresh token is not valid')
  }
}

/** The account behind a valid access token is gone. */
export class AccountGoneError extends Error {
  override name = 'AccountGoneError'
  constructor() {
    super('the account no longer exists')
  }
}

/** The current password given with a change is wrong (the caller is known, so not a 401). */
export class WrongCurrentPasswordError extends Error {
  override name = 'WrongCurrentPasswordError'
  constructor() {
    super('the current password is wrong')
  }
}

/** A reset code that is wrong, expired, used up or dead, or an email without one. */
export class InvalidResetCodeError extends Error {
  override name = 'InvalidResetCodeError'
  constructor() {
    super('the code is wrong or has expired')
  }
}

/** The caller is not an admin in auth's records (whatever its token says). */
export class NotAdminError extends Error {
  override name = 'NotAdminError'
  constructor() {
    super('this action is for admin accounts')
  }
}

/** An admin changing their own role: the last admin could lock everyone out. */
export class OwnRoleError extends Error {
  override name = 'OwnRoleError'
  constructor() {
    super('an admin cannot change their own role')
  }
}

export class NoSuchAccountError extends Error {
  override name = 'NoSuchAccountError'
  constructor() {
    super('no such account')
  }
}

/** Over a rate limit or the account's guessing allowance: try again after the wait. */
export class TooManyAttemptsError extends Error {
  override name = 'TooManyAttemptsError'
  readonly retryAfterSeconds: number
  constructor(retryAfterSeconds: number) {
    super(`too many attempts; try again in ${retryAfterSeconds} seconds`)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The password-hashing queue is full: the service is busy, not the caller wrong. */
export class HashingBusyError extends Error {
  override name = 'HashingBusyError'
  constructor() {
    super('the service is busy checking passwords; try again shortly')
  }
}
