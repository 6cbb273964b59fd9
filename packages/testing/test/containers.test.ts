// The harness's own containers (src/containers.ts), on the container path (no TEST_MYSQL_URL
// or TEST_AMQP_URL, a Docker engine reachable): `scripts/tms containers test -F @tms/testing
// test` runs this file so. Off that path there is nothing to test here, and the file says so.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import t from 'tap'
import { containersChosen, freePorts, removeOrphanContainers } from '../src/containers.ts'

const fixture = new URL('./fixtures/host-container.ts', import.meta.url).pathname

t.test('free ports are distinct and can be listened on', async (t) => {
  const ports = await freePorts(4)
  t.equal(new Set(ports).size, 4)
  for (const port of ports) {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    await new Promise((resolve) => server.close(resolve))
  }
})

if (!(await containersChosen())) {
  t.comment('servers named in the environment or no Docker engine: no containers to test')
} else {
  const { getContainerRuntimeClient } = await import('testcontainers')
  const { dockerode } = (await getContainerRuntimeClient()).container
  const exists = (id: string) =>
    dockerode
      .getContainer(id)
      .inspect()
      .then(
        () => true,
        () => false,
      )

  /** Runs the fixture; resolves with what it printed once it has started its container. */
  const startProcess = (mode: 'exit' | 'hang') => {
    const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    const ended = new Promise<number | null>((resolve) => child.on('exit', resolve))
    const started = new Promise<{ id: string; ports: number[] }>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk) => {
        out += chunk
        if (out.includes('\n')) resolve(JSON.parse(out))
      })
      child.on('exit', (code) => reject(new Error(`fixture ended (${code}) before its container`)))
    })
    return { child, started, ended }
  }

  t.test('two processes side by side get containers on different ports', async (t) => {
    const a = startProcess('hang')
    const b = startProcess('hang')
    const [first, second] = await Promise.all([a.started, b.started])
    t.teardown(() => {
      a.child.kill('SIGKILL')
      b.child.kill('SIGKILL')
      return removeOrphanContainers()
    })
    t.not(first.id, second.id)
    t.same(
      first.ports.filter((p) => second.ports.includes(p)),
      [],
      'no port in common',
    )
    for (const { ports } of [first, second]) {
      const live = await fetch(`http://127.0.0.1:${ports[0]}/minio/health/live`)
      t.equal(live.status, 200, `the server of port ${ports[0]} answers`)
    }
  })

  t.test('a process that ends removes its containers', async (t) => {
    const run = startProcess('exit')
    const { id } = await run.started
    t.equal(await run.ended, 0)
    t.notOk(await exists(id), 'its container is gone')
  })

  t.test('the containers of a killed process are removed by the next one', async (t) => {
    const run = startProcess('hang')
    const { id } = await run.started
    run.child.kill('SIGKILL')
    await run.ended
    t.ok(await exists(id), 'a killed process leaves its container')
    await removeOrphanContainers()
    t.notOk(await exists(id), 'the sweep removed it')
  })
}
