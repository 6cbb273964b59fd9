// How each of the academic service's refusals is answered: the one place that turns the typed
// errors of the use-cases into HTTP problems; routes/index.ts applies it to every route.
import { httpError, problemType } from '@tms/http'
import { PricingError } from '../domain/pricing.ts'
import {
  AccountNotKnownError,
  InvalidSessionInputError,
  SessionConflictError,
  SessionForbiddenError,
  SessionNotFoundError,
} from '../domain/session-errors.ts'

export function problemFor(err: unknown): unknown {
  if (err instanceof InvalidSessionInputError) {
    return httpError(400, 'the request is not valid', { errors: err.errors })
  }
  if (err instanceof SessionForbiddenError) return httpError(403, err.message)
  if (err instanceof SessionNotFoundError) return httpError(404, err.message)
  if (err instanceof SessionConflictError) {
    return httpError(409, err.message, { type: problemType(err.kind) })
  }
  if (err instanceof AccountNotKnownError) {
    return httpError(409, err.message, { type: problemType('account-not-known-yet') })
  }
  if (err instanceof PricingError) {
    // A tutor's rate beyond what a session can be priced at: the profile's problem, not the
    // caller's, and never a 500.
    return httpError(409, `the session cannot be priced: ${err.message}`, { cause: err })
  }
  return err
}
