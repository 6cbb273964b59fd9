export { type AppSettings, buildServiceApp, type ServiceAppOptions } from './app.ts'
export { type Job, type JobRunner, startJobs } from './jobs.ts'
export { runService } from './run.ts'
export {
  busPurgeJob,
  defineService,
  type ServiceContext,
  type ServiceDefinition,
  type ServiceParts,
  serviceBus,
} from './service.ts'
