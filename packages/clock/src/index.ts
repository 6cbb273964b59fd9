// The one time source of every service and package. Code that needs "now" takes a Clock
// instead of calling `new Date()`, so a test can move time (TestClock in @tms/testing) to
// expire a code, age a claim or run a job that is due, without waiting.

export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }
