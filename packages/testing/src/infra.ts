// Where the tests' MySQL and RabbitMQ come from: running servers named in the environment
// (TEST_MYSQL_URL, TEST_AMQP_URL; CI's main test run on this kind of machine goes this way),
// otherwise containers of this process, started on the host network when a Docker engine is
// reachable (containers.ts), from the images MYSQL_IMAGE and RABBITMQ_IMAGE name (the
// official images by default).
import { dockerReachable, startHostContainer, testImages } from './containers.ts'

export interface Infra {
  /** A server URL without a database: `mysql://user:pass@host:port`. */
  mysqlUrl: string
  amqpUrl: string
}

const noInfra =
  'no test infrastructure: set TEST_MYSQL_URL and TEST_AMQP_URL to running servers ' +
  '(e.g. mysql://root@127.0.0.1:3306 and amqp://guest:guest@127.0.0.1:5672) or start a Docker engine for testcontainers'

let mysqlUrl: Promise<string> | undefined
let amqpUrl: Promise<string> | undefined

async function startMysql(): Promise<string> {
  if (process.env.TEST_MYSQL_URL) return process.env.TEST_MYSQL_URL
  if (!(await dockerReachable())) throw new Error(noInfra)
  const container = await startHostContainer({
    image: testImages.mysql(),
    ports: 1,
    configure: ([port]) => ({
      environment: { MYSQL_ROOT_PASSWORD: 'test' },
      // MySQL's X protocol port would be one more fixed port on the host; `loose-` lets
      // MariaDB, which has no such option, start anyway.
      command: [`--port=${port}`, '--bind-address=127.0.0.1', '--loose-mysqlx=OFF'],
      // The first-run server listens on its socket only ("port: 0"); the real one on `port`.
      readyLog: new RegExp(`port: ${port}\\b`),
    }),
  })
  return `mysql://root:test@127.0.0.1:${container.ports[0]}`
}

async function startRabbit(): Promise<string> {
  if (process.env.TEST_AMQP_URL) return process.env.TEST_AMQP_URL
  if (!(await dockerReachable())) throw new Error(noInfra)
  const container = await startHostContainer({
    image: testImages.rabbitmq(),
    // AMQP, the Erlang distribution, the node's own port mapper (epmd), management.
    ports: 4,
    configure: ([amqp, dist, epmd, management]) => ({
      environment: {
        RABBITMQ_NODENAME: `test-${amqp}@localhost`,
        RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
        RABBITMQ_NODE_PORT: String(amqp),
        RABBITMQ_DIST_PORT: String(dist),
        ERL_EPMD_PORT: String(epmd),
        ERL_EPMD_ADDRESS: '127.0.0.1',
        RABBITMQ_DEFAULT_USER: 'test',
        RABBITMQ_DEFAULT_PASS: 'test',
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: [
          '-kernel inet_dist_use_interface {127,0,0,1}',
          `-rabbitmq_management tcp_config [{ip,"127.0.0.1"},{port,${management}}]`,
        ].join(' '),
      },
      readyLog: /Server startup complete/,
    }),
  })
  return `amqp://test:test@127.0.0.1:${container.ports[0]}`
}

export function mysqlServerUrl(): Promise<string> {
  mysqlUrl ??= startMysql()
  return mysqlUrl
}

export function amqpServerUrl(): Promise<string> {
  amqpUrl ??= startRabbit()
  return amqpUrl
}
