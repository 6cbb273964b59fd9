// The pure pricing and time rules of a session.
import t from 'tap'
import {
  lateCancelCharge,
  MAX_HOURLY_RATE,
  PricingError,
  platformFee,
  quote,
  sessionPrice,
} from '../src/domain/pricing.ts'
import { checkSessionTimes, overlaps, parseTime } from '../src/domain/session-times.ts'

t.test('price: round half up of rate × minutes / 60', async (t) => {
  t.equal(sessionPrice(6000, 60), 6000)
  t.equal(sessionPrice(6000, 15), 1500)
  t.equal(sessionPrice(1, 30), 1, 'exactly half a cent rounds up')
  t.equal(sessionPrice(3, 50), 3, '2.5 → 3')
  t.equal(sessionPrice(999, 50), 833, '832.5 → 833')
  t.equal(sessionPrice(1, 15), 0, '0.25 → 0')
  t.equal(sessionPrice(1, 45), 1, '0.75 → 1')
  t.equal(sessionPrice(7, 17), 2, '1.983… → 2')
  t.equal(sessionPrice(61, 29), 29, '29.483… → 29')
  t.equal(sessionPrice(61, 31), 32, '31.516… → 32')
  t.equal(sessionPrice(0, 60), 0)
  t.equal(sessionPrice(MAX_HOURLY_RATE, 480), MAX_HOURLY_RATE * 8, 'no float loss at the top')
  t.equal(sessionPrice(MAX_HOURLY_RATE - 1, 479), 798_333_325, '798333325.1666… → 798333325')
  t.throws(() => sessionPrice(MAX_HOURLY_RATE + 1, 60), PricingError)
  t.throws(() => sessionPrice(-1, 60), PricingError)
  t.throws(() => sessionPrice(1.5, 60), PricingError)
})

t.test('fee: floor of price × bps / 10000', async (t) => {
  t.equal(platformFee(1000, 250), 25)
  t.equal(platformFee(999, 250), 24, '24.975 → 24')
  t.equal(platformFee(1999, 5000), 999, '999.5 → 999')
  t.equal(platformFee(1000, 0), 0)
  t.equal(platformFee(1000, 10_000), 1000)
  t.throws(() => platformFee(1000, 10_001), PricingError)
  t.same(quote(4500, 50, 1000), { price: 3750, fee: 375 })
  t.same(quote(1, 30, 5000), { price: 1, fee: 0 })
})

t.test('late-cancel charge: round half up', async (t) => {
  t.equal(lateCancelCharge(1001, 5000), 501, '500.5 → 501')
  t.equal(lateCancelCharge(1000, 5000), 500)
  t.equal(lateCancelCharge(3, 5000), 2, '1.5 → 2')
  t.equal(lateCancelCharge(1000, 0), 0)
  t.equal(lateCancelCharge(1000, 10_000), 1000)
})

t.test('times: ISO 8601 with an offset, normalised to UTC', async (t) => {
  const parsed = (s: string) => {
    const p = parseTime(s)
    return p.ok ? p.time.toISOString() : p.why
  }
  t.equal(parsed('2030-01-01T10:00:00+01:00'), '2030-01-01T09:00:00.000Z')
  t.equal(parsed('2030-01-01T09:00:00Z'), '2030-01-01T09:00:00.000Z')
  t.equal(parsed('2030-01-01T09:00Z'), '2030-01-01T09:00:00.000Z', 'seconds are optional')
  t.equal(parsed('2029-12-31T23:30:00-09:30'), '2030-01-01T09:00:00.000Z')
  t.equal(parsed('2030-01-01T09:00:00.000Z'), '2030-01-01T09:00:00.000Z')
  t.equal(parsed('2028-02-29T09:00:00Z'), '2028-02-29T09:00:00.000Z', 'a leap day')
  for (const bad of [
    '2030-02-30T09:00:00Z',
    '2029-02-29T09:00:00Z',
    '2030-13-01T09:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T09:60:00Z',
    '2030-01-01T09:00:00',
    '2030-01-01 09:00:00Z',
    '2030-01-01T09:00:00+25:00',
    '2030-01-01',
    'tomorrow',
    '',
    '0050-01-01T09:00:00Z garbage',
  ]) {
    t.notOk(parseTime(bad).ok, `refused: ${JSON.stringify(bad)}`)
  }
  const y50 = parseTime('0050-06-01T09:00:00Z')
  t.ok(y50.ok && y50.time.getUTCFullYear() === 50, 'a year below 100 stays itself')
  const sec = parseTime('2030-01-01T09:00:30Z')
  t.ok(sec.ok && !sec.wholeMinute)
  const ms = parseTime('2030-01-01T09:00:00.001Z')
  t.ok(ms.ok && !ms.wholeMinute)
})

t.test('session times', async (t) => {
  const now = new Date('2030-01-01T00:00:00Z')
  const check = (start: string, end: string) => checkSessionTimes(start, end, now)
  t.match(check('2030-01-02T09:00:00+02:00', '2030-01-02T10:30:00+02:00'), {
    ok: true,
    times: {
      start: new Date('2030-01-02T07:00:00Z'),
      end: new Date('2030-01-02T08:30:00Z'),
      minutes: 90,
    },
  })
  t.match(check('2030-01-02T09:00:00Z', '2030-01-02T09:15:00Z'), {
    ok: true,
    times: { minutes: 15 },
  })
  t.match(check('2030-01-02T09:00:00Z', '2030-01-02T17:00:00Z'), {
    ok: true,
    times: { minutes: 480 },
  })
  const errors = (start: string, end: string) => {
    const c = check(start, end)
    return c.ok ? [] : c.errors
  }
  t.match(errors('2030-01-02T09:00:00Z', '2030-01-02T09:14:00Z'), [
    { field: 'end_time', message: /15 minutes to 8 hours/ },
  ])
  t.match(errors('2030-01-02T09:00:00Z', '2030-01-02T17:01:00Z'), [{ field: 'end_time' }])
  t.match(errors('2030-01-02T09:00:00Z', '2030-01-02T09:00:00Z'), [
    { field: 'end_time', message: 'must be after start_time' },
  ])
  t.match(errors('2030-01-02T10:00:00Z', '2030-01-02T09:00:00Z'), [
    { field: 'end_time', message: 'must be after start_time' },
  ])
  t.match(errors('2030-01-02T09:00:30Z', '2030-01-02T10:00:00Z'), [
    { field: 'start_time', message: 'must be a whole minute' },
  ])
  t.match(errors('2030-01-02T09:00:00Z', '2030-01-02T10:00:00.5Z'), [
    { field: 'end_time', message: 'must be a whole minute' },
  ])
  t.match(errors('2029-12-31T23:00:00Z', '2030-01-01T01:00:00Z'), [
    { field: 'start_time', message: 'must be in the future' },
  ])
  t.match(
    errors('2030-01-01T00:00:00Z', '2030-01-01T01:00:00Z'),
    [{ field: 'start_time', message: 'must be in the future' }],
    'now is not the future',
  )
  t.match(errors('2040-01-01T00:00:00Z', '2040-01-01T01:00:00Z'), [
    { field: 'start_time', message: /days ahead/ },
  ])
  t.match(errors('2030-02-30T09:00:00Z', 'x'), [
    { field: 'start_time', message: 'is not a date of the calendar' },
    { field: 'end_time' },
  ])
})

t.test('overlaps are of half-open intervals', async (t) => {
  const at = (h1: number, h2: number) => ({
    start: new Date(Date.UTC(2030, 0, 1, h1)),
    end: new Date(Date.UTC(2030, 0, 1, h2)),
  })
  t.ok(overlaps(at(9, 11), at(10, 12)))
  t.ok(overlaps(at(9, 12), at(10, 11)))
  t.notOk(overlaps(at(9, 10), at(10, 11)), 'back to back')
  t.notOk(overlaps(at(11, 12), at(9, 10)))
})
