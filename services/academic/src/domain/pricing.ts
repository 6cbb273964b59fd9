// What a session costs, in integer minor units only: the price of its minutes at the tutor's
// hourly rate (rounded half up), the platform's fee of a price (rounded down), and the charge of
// a late cancellation (rounded half up, like a price). The arithmetic runs in BigInt so that no
// product of a rate and minutes, or of an amount and basis points, is ever a rounded float.

/** Basis points: 10000 bps = 100 %. */
export const BPS = 10_000

/** The largest hourly rate a session can be priced at (minor units): far below 2^53 per price. */
export const MAX_HOURLY_RATE = 100_000_000

export class PricingError extends Error {
  override name = 'PricingError'
}

function wholeNumber(value: number, what: string, max = Number.MAX_SAFE_INTEGER): bigint {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new PricingError(`${what} must be a whole number from 0 to ${max} (got ${value})`)
  }
  return BigInt(value)
}

/** a × b / d rounded half up (all non-negative). */
function mulDivHalfUp(a: bigint, b: bigint, d: bigint): number {
  return Number((a * b * 2n + d) / (2n * d))
}

/** a × b / d rounded down (all non-negative). */
function mulDivFloor(a: bigint, b: bigint, d: bigint): number {
  return Number((a * b) / d)
}

/** price = round_half_up(hourly_rate × minutes / 60) */
export function sessionPrice(hourlyRate: number, minutes: number): number {
  return mulDivHalfUp(
    wholeNumber(hourlyRate, 'the hourly rate', MAX_HOURLY_RATE),
    wholeNumber(minutes, 'the minutes'),
    60n,
  )
}

/** fee = floor(amount × PLATFORM_FEE_BPS / 10000): never more than the amount. */
export function platformFee(amount: number, feeBps: number): number {
  return mulDivFloor(
    wholeNumber(amount, 'the amount'),
    wholeNumber(feeBps, 'the fee', BPS),
    10_000n,
  )
}

/** A late cancellation's charge: round_half_up(price × LATE_CANCEL_FEE_BPS / 10000). */
export function lateCancelCharge(price: number, lateCancelBps: number): number {
  return mulDivHalfUp(
    wholeNumber(price, 'the price'),
    wholeNumber(lateCancelBps, 'the late-cancel fee', BPS),
    10_000n,
  )
}

export interface Quote {
  price: number
  fee: number
}

/** The price of a session of `minutes` at `hourlyRate`, and the platform's fee of it. */
export function quote(hourlyRate: number, minutes: number, feeBps: number): Quote {
  const price = sessionPrice(hourlyRate, minutes)
  return { price, fee: platformFee(price, feeBps) }
}
