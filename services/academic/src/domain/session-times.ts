// When a session may be: ISO 8601 times with an offset (normalised to UTC), on whole minutes,
// 15 minutes to 8 hours long, ending after it starts and starting in the future. Parsed here
// rather than by `new Date(string)`, which accepts forms the SPEC does not (no offset, local
// time) and rolls impossible dates over (February 30th becomes March 2nd).

export const MIN_SESSION_MINUTES = 15
export const MAX_SESSION_MINUTES = 8 * 60
/** How far ahead a session may start: beyond the SPEC, so that no time leaves the database's range. */
export const MAX_DAYS_AHEAD = 730

export interface TimeFieldError {
  field: string
  message: string
}

export interface SessionTimes {
  start: Date
  end: Date
  minutes: number
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:\d{2})$/

/** Date.UTC reads years 0-99 as 1900-1999; this does not. */
function utc(year: number, monthIndex: number, day: number, ...time: number[]): number {
  const date = new Date(Date.UTC(2000, 0, 1, ...time))
  date.setUTCFullYear(year, monthIndex, day)
  return date.getTime()
}

function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month, 0)).getUTCDate()
}

export type ParsedTime = { ok: true; time: Date; wholeMinute: boolean } | { ok: false; why: string }

/** An ISO 8601 date-time with `Z` or an offset, as an instant; a bad date is refused. */
export function parseTime(text: string): ParsedTime {
  const m = ISO_TIME.exec(text)
  if (!m) {
    return { ok: false, why: 'must be an ISO 8601 date-time with Z or an offset' }
  }
  const [, y, mo, d, h, mi, s = '0', fraction = '', offset = 'Z'] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, why: 'is not a date of the calendar' }
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, why: 'is not a time of the day' }
  }
  let offsetMinutes = 0
  if (offset !== 'Z' && offset !== 'z') {
    const oh = Number(offset.slice(1, 3))
    const om = Number(offset.slice(4, 6))
    if (oh > 23 || om > 59) return { ok: false, why: 'has an offset out of range' }
    offsetMinutes = (offset.startsWith('-') ? -1 : 1) * (oh * 60 + om)
  }
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3))
  const instant = utc(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000
  return {
    ok: true,
    time: new Date(instant),
    wholeMinute: second === 0 && /^0*$/.test(fraction),
  }
}

export type CheckedTimes =
  | { ok: true; times: SessionTimes }
  | { ok: false; errors: TimeFieldError[] }

/**
 * The SPEC's rules for a session's times, checked against `now`: each a valid date-time on a
 * whole minute, the end after the start, 15 minutes to 8 hours, the start in the future (and at
 * most MAX_DAYS_AHEAD days ahead).
 */
export function checkSessionTimes(startText: string, endText: string, now: Date): CheckedTimes {
  const errors: TimeFieldError[] = []
  const start = parseTime(startText)
  const end = parseTime(endText)
  if (!start.ok) errors.push({ field: 'start_time', message: start.why })
  else if (!start.wholeMinute)
    errors.push({ field: 'start_time', message: 'must be a whole minute' })
  if (!end.ok) errors.push({ field: 'end_time', message: end.why })
  else if (!end.wholeMinute) errors.push({ field: 'end_time', message: 'must be a whole minute' })
  if (!start.ok || !end.ok || errors.length > 0) return { ok: false, errors }

  const minutes = (end.time.getTime() - start.time.getTime()) / 60_000
  if (minutes <= 0) {
    errors.push({ field: 'end_time', message: 'must be after start_time' })
  } else if (minutes < MIN_SESSION_MINUTES || minutes > MAX_SESSION_MINUTES) {
    errors.push({
      field: 'end_time',
      message: `the session must last ${MIN_SESSION_MINUTES} minutes to ${MAX_SESSION_MINUTES / 60} hours (got ${minutes} minutes)`,
    })
  }
  if (start.time.getTime() <= now.getTime()) {
    errors.push({ field: 'start_time', message: 'must be in the future' })
  } else if (start.time.getTime() > now.getTime() + MAX_DAYS_AHEAD * 86_400_000) {
    errors.push({ field: 'start_time', message: `must be at most ${MAX_DAYS_AHEAD} days ahead` })
  }
  if (errors.length > 0) return { ok: false, errors }
  return { ok: true, times: { start: start.time, end: end.time, minutes } }
}

/** Two half-open intervals [start, end) share a moment: back-to-back sessions do not overlap. */
export function overlaps(a: { start: Date; end: Date }, b: { start: Date; end: Date }): boolean {
  return a.start.getTime() < b.end.getTime() && b.start.getTime() < a.end.getTime()
}
