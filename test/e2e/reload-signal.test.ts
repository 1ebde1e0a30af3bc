/**
 * SIGHUP reloads the configuration file of a running service process: a
 * flow added to the file runs without a restart, over real sockets (the
 * service as a child process, the sandbox, an SFTP server).
 */
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { childApi, childSetup, exitCodeOf, waitForRunOver } from '../support/child-service.js'

t.test('SIGHUP: a flow added to the file runs without a restart', async (t) => {
  const setup = await childSetup(t)
  const child = await setup.start()
  t.teardown(async () => {
    child.proc.kill('SIGTERM')
    await exitCodeOf(child.proc)
  })
  const config = JSON.parse(await readFile(setup.configPath, 'utf8'))
  const bulk = config.flows[0]
  config.flows.push({ ...bulk, name: 'second', source: { endpoint: 'partner', directory: '/second' } })
  await writeFile(setup.configPath, JSON.stringify(config))
  t.equal((await childApi(child, 'POST', '/v1/flows/second/runs')).status, 404, 'unknown before the signal')

  child.proc.kill('SIGHUP')
  // Another process: nothing to await but its answers (a signal has no reply).
  for (;;) {
    const flows = (await childApi(child, 'GET', '/v1/flows')).json.flows as { name: string }[]
    if (flows.some((f) => f.name === 'second')) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await mkdir(join(setup.remoteRoot, 'second'), { recursive: true })
  const path = join(setup.remoteRoot, 'second', 'ACME-001_signal.pdf')
  await writeFile(path, 'after SIGHUP')
  const hourAgo = (Date.now() - 3_600_000) / 1000
  await utimes(path, hourAgo, hourAgo)
  const started = await childApi(child, 'POST', '/v1/flows/second/runs')
  t.equal(started.status, 202)
  const run = await waitForRunOver(child, started.json.runId)
  t.equal(run.state, 'succeeded')
  const names = setup.sandbox.records('cg__AccountFile__c').map((r) => r.cg__File_Name__c)
  t.ok(names.includes('ACME-001_signal.pdf'), 'the file arrived in S-Drive')
  t.equal(child.proc.exitCode, null, 'the same process, still running')
})
