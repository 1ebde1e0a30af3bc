/**
 * A run moving many files at once listens on its one abort signal from every
 * layer each file is in (pool wait, remote operation, S3 upload, Salesforce
 * call). Those listeners are all removed again, so Node's "possible
 * EventTarget memory leak" warning (raised past 10 listeners) is a false
 * alarm an operator should never see in the service's output.
 */
import t from 'tap'
import { sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

t.test('16 files at a time: every file arrives, no MaxListenersExceededWarning', async (t) => {
  const warnings: string[] = []
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning')
      warnings.push(`${warning.message}\n${warning.stack ?? ''}`)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
    endpoint: { maxConnections: 16 },
    queue: { maxConcurrentTransfers: 16 },
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  const files = Array.from({ length: 64 }, (_, i) => `ACME-001_${String(i).padStart(2, '0')}.pdf`)
  await Promise.all(files.map((name) => h.put(`inbox/${name}`, `document ${name}`)))
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded')
  t.equal(sdriveFiles(h.sandbox).length, files.length, 'every file in S-Drive')
  // A warning is emitted on the next tick of the listener that crossed the limit.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings, [], 'no listener-leak warning')
})
