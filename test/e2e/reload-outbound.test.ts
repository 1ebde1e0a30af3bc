/**
 * Reload without a restart, for exports, over real sockets: the Salesforce
 * sandbox, the harness's SFTP server reached as a new "recipient" endpoint
 * through a fault proxy (which holds an upload in flight), and the bridge.
 * One bridge: an endpoint and an export flow are added, the flow's
 * directory changed, then both removed while a job of the flow is in flight.
 */
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { startFaultProxy } from '../support/fault-proxy.js'
import { type Harness, standardFlow } from '../support/harness.js'
import { type Config, reloadSetup } from '../support/reload.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const exportFlow = (directory: string) => ({
  name: 'deliveries',
  kind: 'outbound',
  source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
  destination: { endpoint: 'recipient', directory },
})

async function account(h: Harness, name: string, content: string | Buffer) {
  const id = h.sandbox.insert('Account', { Name: name })
  await seedSDriveFiles(
    h.server.bridge.sdrive,
    { parentId: id, fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    [{ name: `${name}.pdf`, content }],
  )
  return id
}

t.test('reload: an export flow and its endpoint added, changed, removed in flight', async (t) => {
  const s = await reloadSetup(t, { protocol: 'sftp', flows: (endpoint) => [standardFlow(endpoint)] })
  const { h } = s
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: h.remote.port } })
  t.teardown(() => proxy.close())
  // Uploads stall past 1 MiB on any connection: the small files pass, the big one is held in flight.
  proxy.setRule({ action: 'stall', afterBytes: 1024 * 1024, direction: 'toTarget' })
  const withRecipient = (directory: string): Config => {
    const config = s.base()
    config.endpoints.recipient = { ...config.endpoints.partner, port: proxy.port }
    config.flows.push(exportFlow(directory))
    return config
  }
  const exportOf = (recordId: string) =>
    h.api('POST', '/v1/exports', { body: { flow: 'deliveries', recordIds: [recordId] } })
  const jobState = async (jobId: string) => {
    await h.server.bridge.exports.settled(jobId)
    return (await h.server.bridge.store.getRun(jobId))?.state
  }

  await t.test('an added endpoint and export flow deliver without a restart', async (t) => {
    const first = await account(h, 'First', 'the first export')
    const before = await exportOf(first)
    t.equal(before.status, 404, 'unknown before the reload')
    t.equal(before.json.error.code, 'NOT_FOUND')
    const res = await s.reload(withRecipient('/recipient/in'))
    t.equal(res.status, 200)
    t.same(res.json.flows.added, ['deliveries'])
    t.same(res.json.endpoints.added, ['recipient'])
    const job = await exportOf(first)
    t.equal(job.status, 202)
    t.equal(await jobState(job.json.jobId), 'succeeded')
    t.equal(await h.read('recipient/in/First.pdf'), 'the first export', 'delivered through the new endpoint')
    t.ok(proxy.stats().connections > 0, 'over the recipient endpoint (the proxy)')
  })

  await t.test('a changed destination directory applies to the next job', async (t) => {
    const res = await s.reload(withRecipient('/recipient/moved'))
    t.same(res.json.flows.changed, [{ name: 'deliveries', keys: ['destination.directory'] }])
    const second = await account(h, 'Second', 'the second export')
    const job = await exportOf(second)
    t.equal(await jobState(job.json.jobId), 'succeeded')
    t.same(await h.list('recipient/moved'), ['Second.pdf'])
    t.same(await h.list('recipient/in'), ['First.pdf'], 'nothing more in the old directory')
  })

  await t.test(
    'a flow removed while its job is in flight: the job finishes, new ones are refused',
    async (t) => {
      const big = Buffer.alloc(4 * 1024 * 1024, 7)
      const third = await account(h, 'Third', big)
      const stalled = once(proxy.events, 'stall')
      const job = await exportOf(third)
      t.equal(job.status, 202)
      await stalled

      const res = await s.reload(s.base())
      t.same(res.json.flows.removed, ['deliveries'])
      t.same(res.json.endpoints.removed, ['recipient'])
      const refused = await exportOf(third)
      t.equal(refused.status, 404, 'a new export of the removed flow is refused')
      t.equal(refused.json.error.code, 'NOT_FOUND')
      t.match(refused.json.error.message, /deliveries/)

      proxy.setRule(null)
      proxy.release()
      t.equal(await jobState(job.json.jobId), 'succeeded', 'the job in flight finished')
      const delivered = await readFile(join(h.remoteRoot, 'recipient/moved/Third.pdf'))
      t.ok(delivered.equals(big), 'delivered whole')
      const shown = await h.api('GET', `/v1/jobs/${job.json.jobId}`)
      t.equal(shown.status, 200, 'the finished job of the removed flow can still be read')
      t.equal(shown.json.state, 'succeeded')
      const retried = await h.api('POST', `/v1/jobs/${job.json.jobId}/retry`)
      t.equal(retried.status, 409, 'but not retried: its flow is gone')
      t.equal(retried.json.error.code, 'FLOW_REMOVED')
    },
  )
})
