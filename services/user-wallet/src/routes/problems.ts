// How each of the wallet's refusals is answered: the one place that turns the typed errors of
// the use-cases into HTTP problems. routes/index.ts applies it to every route; the money routes
// also store the definitive ones with their Idempotency-Key (routes/wallet.ts).
import { httpError, problemType } from '@tms/http'
import {
  NoSuchUserError,
  NotAdminError,
  ProfileConflictError,
  ProfileNotYetError,
  WrongCurrencyError,
} from '../domain/errors.ts'
import { InsufficientFundsError, InvalidAmountError } from '../domain/ledger.ts'

export function problemFor(err: unknown): unknown {
  if (err instanceof WrongCurrencyError) {
    return httpError(400, err.message, {
      errors: [{ field: 'currency', message: `must be ${err.currency}` }],
    })
  }
  if (err instanceof NotAdminError) return httpError(403, err.message)
  if (err instanceof NoSuchUserError || err instanceof ProfileNotYetError) {
    return httpError(404, err.message)
  }
  if (err instanceof ProfileConflictError) return httpError(409, err.message)
  if (err instanceof InsufficientFundsError) {
    return httpError(409, 'the available balance does not cover this amount', {
      type: problemType('insufficient-funds'),
    })
  }
  if (err instanceof InvalidAmountError) {
    return httpError(409, `the movement cannot be made: ${err.message}`)
  }
  return err
}
