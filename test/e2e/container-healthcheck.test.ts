/**
 * The container's HEALTHCHECK script over real sockets: it reads the same
 * configuration file as the service and asks /healthz on the port the
 * service really listens on (`server.port`), not $PORT; it fails when the
 * service is down.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import t from 'tap'
import { healthUrlOf } from '../../src/healthcheck.js'
import { childSetup, exitCodeOf } from '../support/child-service.js'
import { childEnv, compiled } from '../support/service-build.js'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function runHealthcheck(configPath: string, env: Record<string, string>) {
  const proc = spawn(process.execPath, [compiled('src/healthcheck.ts')], {
    env: childEnv({ ...env, BRIDGE_CONFIG: configPath }),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const code = await exitCodeOf(proc)
  return { code, stderr }
}

t.test('healthUrlOf: the configured host and port; a wildcard address is asked on loopback', async (t) => {
  t.equal(healthUrlOf({ host: '0.0.0.0', port: 8080 }), 'http://127.0.0.1:8080/healthz')
  t.equal(healthUrlOf({ host: '::', port: 9000 }), 'http://127.0.0.1:9000/healthz')
  t.equal(healthUrlOf({ host: '10.1.2.3', port: 8443 }), 'http://10.1.2.3:8443/healthz')
  t.equal(healthUrlOf({ host: '::1', port: 8081 }), 'http://[::1]:8081/healthz')
})

t.test('the HEALTHCHECK script asks the port of server.port and ignores $PORT', async (t) => {
  const port = await freePort()
  const setup = await childSetup(t, { server: { port } })
  const child = await setup.start()
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
  })
  t.equal(child.url, `http://127.0.0.1:${port}`, 'the service listens on server.port')
  // A stale PORT (what the old HEALTHCHECK read) points elsewhere and must not matter.
  const healthy = await runHealthcheck(setup.configPath, { ...setup.env, PORT: '1' })
  t.equal(healthy.code, 0, `healthy: ${healthy.stderr}`)

  child.proc.kill('SIGKILL')
  await exitCodeOf(child.proc)
  const down = await runHealthcheck(setup.configPath, setup.env)
  t.equal(down.code, 1, 'the service is down: unhealthy')
  t.match(down.stderr, new RegExp(`unhealthy: http://127\\.0\\.0\\.1:${port}/healthz: ECONNREFUSED`))
})
