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
  admin,
  type RunningSystem,
  type ServiceName,
  type SystemOptions,
  startSystem,
} from './system.ts'
