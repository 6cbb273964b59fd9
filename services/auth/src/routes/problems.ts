// How each of auth's refusals is answered: the one place that turns the typed errors of the
// use-cases (domain/errors.ts) into HTTP problems. routes/index.ts applies it to every route.
import { ContractError } from '@tms/contracts'
import { httpError } from '@tms/http'
import {
  AccountGoneError,
  AccountTakenError,
  HashingBusyError,
  InvalidRefreshTokenError,
  InvalidResetCodeError,
  NoSuchAccountError,
  NotAdminError,
  OwnRoleError,
  TooManyAttemptsError,
  WeakPasswordError,
  WrongCredentialsError,
  WrongCurrentPasswordError,
} from '../domain/errors.ts'

export function problemFor(err: unknown): unknown {
  if (err instanceof WeakPasswordError) {
    return httpError(400, 'the body is not valid', {
      errors: [{ field: err.field, message: err.message }],
    })
  }
  if (err instanceof InvalidResetCodeError) {
    return httpError(400, err.message, {
      errors: [{ field: 'otp', message: 'is wrong or has expired' }],
    })
  }
  if (
    err instanceof WrongCredentialsError ||
    err instanceof InvalidRefreshTokenError ||
    err instanceof AccountGoneError
  ) {
    return httpError(401, err.message)
  }
  if (err instanceof WrongCurrentPasswordError || err instanceof NotAdminError) {
    return httpError(403, err.message)
  }
  if (err instanceof NoSuchAccountError) return httpError(404, err.message)
  if (err instanceof AccountTakenError || err instanceof OwnRoleError) {
    return httpError(409, err.message)
  }
  if (err instanceof TooManyAttemptsError) {
    return httpError(429, err.message, {
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    })
  }
  if (err instanceof HashingBusyError) {
    return httpError(503, err.message, { headers: { 'retry-after': '1' } })
  }
  // A value the route accepted and the event contract refused: a bug (the routes and the
  // contracts share their rules), answered as a 400, logged at error level with the cause.
  if (err instanceof ContractError) {
    return httpError(400, 'the request holds a value that cannot be recorded', { cause: err })
  }
  return err
}
