// What the class-session use-cases refuse with, in words a client may read; the routes say
// which HTTP problem each is. Nothing below routes/ knows HTTP.

/** No such session, or one the caller may not see: the same answer for both. */
export class SessionNotFoundError extends Error {
  override name = 'SessionNotFoundError'
  constructor() {
    super('no such session')
  }
}

/** The caller's role may never do this (a student accepting, a tutor requesting). */
export class SessionForbiddenError extends Error {
  override name = 'SessionForbiddenError'
}

export type ConflictKind =
  /** The state machine does not allow the change from the session's status. */
  | 'illegal-transition'
  /** It would overlap another booked session of the tutor or the student. */
  | 'overlapping-booking'
  /** The wallet has not authorized the hold (yet). */
  | 'payment-not-authorized'

/** A change the session's state or the calendars do not allow now. */
export class SessionConflictError extends Error {
  override name = 'SessionConflictError'
  readonly kind: ConflictKind
  constructor(kind: ConflictKind, detail: string) {
    super(detail)
    this.kind = kind
  }
}

export interface InputError {
  field: string
  message: string
}

/** Input no session could have: bad times, an unbookable tutor, a field the caller may not set. */
export class InvalidSessionInputError extends Error {
  override name = 'InvalidSessionInputError'
  readonly errors: InputError[]
  constructor(errors: InputError[]) {
    super(errors.map((e) => `${e.field} ${e.message}`).join('; '))
    this.errors = errors
  }
}

/** The caller's account has not reached this service yet (auth's event follows signup). */
export class AccountNotKnownError extends Error {
  override name = 'AccountNotKnownError'
  constructor() {
    super(
      'this account is not known here yet (it follows signup within seconds); try again shortly',
    )
  }
}
