// Settings for property-based tests (fast-check): a seed printed by every run and taken from
// FUZZ_SEED when set, so a failure seen once (in CI, say) replays exactly; FUZZ_RUNS scales the
// number of cases up for a long hunt or down for a quick look.
import { randomInt } from 'node:crypto'

export interface FuzzSettings {
  seed: number
  numRuns: number
}

/**
 * The seed and number of runs for one property. Prints `FUZZ_SEED=<seed>` as a TAP comment
 * so the line to replay a failing run is in its output.
 */
export function fuzzSettings(
  t: { comment(...message: unknown[]): void },
  defaults: { numRuns: number },
): FuzzSettings {
  const given = process.env.FUZZ_SEED
  const seed = given !== undefined && given !== '' ? Number(given) : randomInt(0, 2 ** 31 - 1)
  if (!Number.isSafeInteger(seed))
    throw new Error(`FUZZ_SEED must be a whole number (got ${given})`)
  const runs = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : defaults.numRuns
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('FUZZ_RUNS must be a whole number')
  t.comment(`FUZZ_SEED=${seed} FUZZ_RUNS=${runs} replays this run`)
  return { seed, numRuns: runs }
}

/**
 * A request in the shape the fuzz tests generate (`{ method, url, body: EncodedBody }`), with a
 * JSON body when one is given: for a property's `examples`, the requests that run every time so
 * that what a test asserts about the answers seen does not rest on the seed.
 */
export function exampleRequest(method: string, url: string, body?: object) {
  return {
    method,
    url,
    body:
      body === undefined
        ? { headers: {} as Record<string, string> }
        : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) },
  }
}
