/** The part of a tap test the harness needs: somewhere to register cleanup. */
export interface TestContext {
  teardown(fn: () => unknown): void
}
