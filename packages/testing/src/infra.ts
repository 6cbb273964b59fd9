// Where the tests' MySQL and RabbitMQ come from: running services named in the environment
// (TEST_MYSQL_URL, TEST_AMQP_URL; CI on this kind of machine goes this way), otherwise
// containers started with testcontainers when a Docker engine is reachable. Containers live as
// long as the test process; testcontainers' reaper removes them when it ends.

export interface Infra {
  /** A server URL without a database: `mysql://user:pass@host:port`. */
  mysqlUrl: string
  amqpUrl: string
}

const noInfra =
  'no test infrastructure: set TEST_MYSQL_URL and TEST_AMQP_URL to running servers ' +
  '(e.g. mysql://root@127.0.0.1:3306 and amqp://guest:guest@127.0.0.1:5672) or start a Docker engine for testcontainers'

export async function dockerReachable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}

let mysqlUrl: Promise<string> | undefined
let amqpUrl: Promise<string> | undefined

async function startMysql(): Promise<string> {
  if (process.env.TEST_MYSQL_URL) return process.env.TEST_MYSQL_URL
  if (!(await dockerReachable())) throw new Error(noInfra)
  const { MySqlContainer } = await import('@testcontainers/mysql')
  const container = await new MySqlContainer('mysql:8.4').withRootPassword('test').start()
  return `mysql://root:test@${container.getHost()}:${container.getMappedPort(3306)}`
}

async function startRabbit(): Promise<string> {
  if (process.env.TEST_AMQP_URL) return process.env.TEST_AMQP_URL
  if (!(await dockerReachable())) throw new Error(noInfra)
  const { RabbitMQContainer } = await import('@testcontainers/rabbitmq')
  const container = await new RabbitMQContainer('rabbitmq:3.13').start()
  return container.getAmqpUrl()
}

export function mysqlServerUrl(): Promise<string> {
  mysqlUrl ??= startMysql()
  return mysqlUrl
}

export function amqpServerUrl(): Promise<string> {
  amqpUrl ??= startRabbit()
  return amqpUrl
}
