// The harness's containers, when no server is named in the environment and a Docker engine is
// reachable: started with testcontainers on the host network, each process on free 127.0.0.1
// ports of its own (so test processes running side by side never meet), ready when the server
// logs that it is. The host network works on engines without bridge networking (this project's
// machines) and on any Linux engine; it needs no mapped ports.
//
// testcontainers' reaper (Ryuk) is off: it is reached through a mapped port, which the host
// network has not. The harness removes its own containers instead: when the test process has
// nothing left to do, and, for a process that was killed, at the next start of any test
// process (containers whose owner process is gone).
import { createServer } from 'node:net'
import { hostname } from 'node:os'

/** The images, from the same variables as docker-compose.yml; the official ones by default. */
export const testImages = {
  mysql: () => process.env.MYSQL_IMAGE || 'mysql:8.4',
  rabbitmq: () => process.env.RABBITMQ_IMAGE || 'rabbitmq:3.13-management',
  minio: () => process.env.MINIO_IMAGE || 'minio/minio:RELEASE.2024-10-13T13-34-11Z',
}

const ownerLabel = 'org.tms.harness.owner'
const harnessLabel = 'org.tms.harness'

// Read by testcontainers when it first reaches the engine (the reaper, and the address of
// the containers, which on the host network is the loopback address).
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true'
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1'

export async function dockerReachable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}

/**
 * Whether this process is on the container path: no server named in the environment
 * (TEST_MYSQL_URL, TEST_AMQP_URL) and a Docker engine answers. S3 follows the same choice, so
 * a run against named servers never needs an image even where an engine runs (it uses s3rver
 * in the process).
 */
export async function containersChosen(): Promise<boolean> {
  if (process.env.TEST_MYSQL_URL || process.env.TEST_AMQP_URL) return false
  return dockerReachable()
}

/** `count` ports that nothing listens on now, all different. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer()
          server.once('error', reject)
          server.listen(0, '127.0.0.1', () => resolve(server))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

export interface HostContainerSpec {
  image: string
  /** How many free ports the server needs; `configure` gets them. */
  ports: number
  configure(ports: number[]): {
    environment?: Record<string, string>
    command?: string[]
    /** A line of the server's log that says it is ready, with these ports. */
    readyLog: RegExp
  }
}

export interface HostContainer {
  id: string
  ports: number[]
  stop(): Promise<void>
}

const started = new Set<HostContainer>()
let cleanupRegistered = false

/**
 * Starts a container on the host network with free ports. Another process may take a port
 * between the choice and the server's start; then the start is tried again with new ports.
 */
export async function startHostContainer(spec: HostContainerSpec): Promise<HostContainer> {
  const { GenericContainer, Wait } = await import('testcontainers')
  await removeOrphans()
  registerCleanup()
  let lastError: unknown
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ports = await freePorts(spec.ports)
    const { environment = {}, command, readyLog } = spec.configure(ports)
    let container = new GenericContainer(spec.image)
      .withNetworkMode('host')
      .withEnvironment(environment)
      .withLabels({ [harnessLabel]: 'true', [ownerLabel]: `${hostname()}:${process.pid}` })
      .withWaitStrategy(Wait.forLogMessage(readyLog))
      .withStartupTimeout(120_000)
    if (command) container = container.withCommand(command)
    try {
      const running = await container.start()
      const handle: HostContainer = {
        id: running.getId(),
        ports,
        stop: async () => {
          started.delete(handle)
          await running.stop({ remove: true, removeVolumes: true, timeout: 2000 })
        },
      }
      started.add(handle)
      return handle
    } catch (err) {
      lastError = err
    }
  }
  throw new Error(`could not start ${spec.image}: ${String(lastError)}`, { cause: lastError })
}

/** Stops every container of this process once the process has nothing else to do. */
function registerCleanup(): void {
  if (cleanupRegistered) return
  cleanupRegistered = true
  process.on('beforeExit', () => {
    if (started.size === 0) return
    // Stopping is asynchronous work, after which beforeExit comes again with nothing left.
    void Promise.allSettled([...started].map((c) => c.stop()))
  })
}

let orphansRemoved: Promise<void> | undefined

function removeOrphans(): Promise<void> {
  orphansRemoved ??= removeOrphanContainers()
  return orphansRemoved
}

/** Removes containers left by test processes of this machine that no longer run. */
export async function removeOrphanContainers(): Promise<void> {
  const { getContainerRuntimeClient } = await import('testcontainers')
  const { dockerode } = (await getContainerRuntimeClient()).container
  const mine = `${hostname()}:`
  const left = await dockerode.listContainers({
    all: true,
    filters: { label: [`${harnessLabel}=true`] },
  })
  for (const info of left) {
    const owner = info.Labels?.[ownerLabel]
    if (!owner?.startsWith(mine) || processRuns(Number(owner.slice(mine.length)))) continue
    // Another process may be removing it too.
    await dockerode
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .catch(() => {})
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
