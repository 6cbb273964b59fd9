export { type Part, type PartName, partNames, parts } from './parts.ts'
export { type LogLine, type ProcessOptions, ServiceProcess } from './process.ts'
