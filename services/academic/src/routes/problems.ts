// How each of the academic service's refusals is answered: the one place that turns the typed
// errors of the use-cases into HTTP problems; routes/index.ts applies it to every route.
import { httpError, problemType } from '@tms/http'
import { PricingError } from '../domain/pricing.ts'
import {
  ProfileExistsError,
  RuleViolation,
  StoreUnavailableError,
  UploadDiscardedError,
} from '../domain/profiles.ts'
import {
  AccountNotKnownError,
  InvalidSessionInputError,
  SessionConflictError,
  SessionForbiddenError,
  SessionNotFoundError,
} from '../domain/session-errors.ts'
import { DocumentTooLargeError, UnsupportedDocumentTypeError } from '../storage/upload.ts'

const refusalStatus = { invalid: 400, forbidden: 403, hidden: 404, conflict: 409 } as const

export function problemFor(err: unknown): unknown {
  if (err instanceof RuleViolation) {
    return httpError(refusalStatus[err.refusal], err.message, { errors: err.errors })
  }
  if (err instanceof ProfileExistsError) {
    return httpError(409, err.message, { type: problemType('profile-exists') })
  }
  if (err instanceof DocumentTooLargeError) {
    return httpError(413, err.message, {
      type: problemType('document-too-large'),
      errors: [{ field: err.field, message: `is larger than ${err.maxBytes} bytes` }],
    })
  }
  if (err instanceof UnsupportedDocumentTypeError) {
    return httpError(415, err.message, {
      type: problemType('unsupported-document-type'),
      errors: [{ field: err.field, message: err.reason }],
    })
  }
  if (err instanceof UploadDiscardedError) {
    return httpError(503, err.message, { headers: { 'retry-after': '1' } })
  }
  if (err instanceof StoreUnavailableError) {
    // Logged with its cause (the shared handler logs a problem that has one).
    return httpError(503, err.message, { headers: { 'retry-after': '5' }, cause: err.cause })
  }
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
