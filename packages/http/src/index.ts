export {
  type App,
  ajvOptions,
  type BuildOptions,
  buildFastify,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  routeSchemaCheck,
  timeoutOptions,
} from './app.ts'
export { type HealthCheck, type HealthOptions, health } from './health.ts'
export { type MetricsOptions, metrics } from './metrics.ts'
export { bearerSecurity, type OpenApiOptions, openApi } from './openapi.ts'
export {
  type FieldError,
  HttpProblem,
  httpError,
  mapErrors,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  type Problem,
  type ProblemOptions,
  ProblemSchema,
  problemBody,
  problemDetails,
  problems,
  problemType,
  sendProblem,
  sendProblemBody,
  titleOf,
  validationErrors,
} from './problem.ts'
