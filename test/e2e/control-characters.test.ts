/**
 * A partner file whose name holds control characters (SOH, ESC, DEL, and a
 * C1 NEL) over a real inbound run in the sandbox: the S-Drive description
 * and file name reach Salesforce without them, while the file on the
 * partner's server keeps the name the partner gave it.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we look for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

t.test('control characters in a file name do not reach S-Drive metadata', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (e) => [
      standardFlow(e, {
        target: {
          ...(standardFlow(e).target as Record<string, unknown>),
          description: 'From {flow}: {file.name} ({file.path})',
        },
      }),
    ],
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  const name = 'ACME-001_a\u0001b\u001b[2Jc\u007fd\u0085e.pdf'
  await h.put(`inbox/${name}`, 'contract with a hostile name')

  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded')
  t.equal(run.counts.done, 1)
  const [file, ...more] = sdriveFiles(h.sandbox)
  t.equal(more.length, 0)
  t.equal(file?.cg__Description__c, 'From partner-docs: ACME-001_ab[2Jcde.pdf (/inbox/ACME-001_ab[2Jcde.pdf)')
  t.equal(file?.cg__File_Name__c, 'ACME-001_ab[2Jcde.pdf')
  for (const [field, value] of Object.entries(file ?? {})) {
    if (typeof value === 'string') t.notMatch(value, CONTROL, `${field} has no control character`)
  }
  t.same(await readdir(join(h.remoteRoot, 'processed')), [name], 'the partner’s file keeps its own name')
})
