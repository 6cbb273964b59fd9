// `pnpm migrate [latest|down|status]`: the academic database's migrations, by hand.
import { loadConfig } from '@tms/config'
import { runMigrationCommand } from '@tms/db'
import { configSpec } from '../config.ts'
import { migrations } from './migrations.ts'

const config = loadConfig({ databaseUrl: configSpec.databaseUrl })
await runMigrationCommand(config.databaseUrl, migrations)
