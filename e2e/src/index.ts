export { eventProblems, ledgerProblems, sessionMoves } from './checks.ts'
export {
  type Account,
  type Answer,
  Client,
  eventually,
  files,
  login,
  newAccount,
} from './client.ts'
export {
  balances,
  type Cast,
  cast,
  getSession,
  paymentWhen,
  RATE,
  requestAuthorized,
  requestSession,
  runToPaid,
  sessionWhen,
  slot,
} from './flows.ts'
export {
  admin,
  type RunningSystem,
  type ServiceName,
  type SystemOptions,
  startSystem,
} from './system.ts'
