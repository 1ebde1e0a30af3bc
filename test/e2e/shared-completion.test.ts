/**
 * Batches bound for different records finish their uploads with shared S-Drive PUTs (one
 * POST per record is unavoidable: POST /files takes one parent). Over SFTP into the sandbox:
 * 8 records × 40 files finish with 2 PUTs, never more than 200 WIP ids each, and every file
 * lands finished (no WIP record left). A batch alone does not wait for anyone.
 */
import t from 'tap'
import { sdriveFiles, standardFlow, startHarness } from '../support/harness.js'

const RECORDS = 8
const FILES_PER_RECORD = 40

t.test('8 records × 40 files: 8 POSTs, 2 shared PUTs, nothing left WIP', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    // The wait is long so the sharing does not depend on how fast this machine moves files.
    sdrive: { completionWaitMs: 600_000 },
    flows: (e) => [standardFlow(e)],
  })
  t.teardown(() => h.close())
  for (let r = 1; r <= RECORDS; r++) {
    h.sandbox.insert('Account', { Name: `Shop ${r}`, AccountNumber: `SHOP-${r}` })
    for (let i = 0; i < FILES_PER_RECORD; i++)
      await h.put(`inbox/SHOP-${r}_image-${i}.txt`, `image ${r}/${i}`)
  }
  const before = { ...h.sandbox.calls }
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded')
  t.equal(run.counts.done, RECORDS * FILES_PER_RECORD)
  const delta = (kind: string) => (h.sandbox.calls[kind] ?? 0) - (before[kind] ?? 0)
  t.equal(delta('apex:POST'), RECORDS, 'one POST per record')
  t.equal(delta('apex:PUT'), 2, '320 uploads finished by 2 PUTs of at most 200 ids (not one per record)')
  const files = sdriveFiles(h.sandbox)
  t.equal(files.length, RECORDS * FILES_PER_RECORD)
  t.equal(files.filter((f) => f.cg__WIP__c !== false).length, 0, 'no WIP record left')
})

t.test('a run of one batch sends its PUT at once, whatever the wait', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    sdrive: { completionWaitMs: 600_000 },
    flows: (e) => [standardFlow(e)],
  })
  t.teardown(() => h.close())
  h.sandbox.insert('Account', { Name: 'Solo', AccountNumber: 'SOLO-1' })
  await h.put('inbox/SOLO-1_contract.pdf', 'one contract')
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded', 'finished well inside the 600 s linger')
  t.equal(sdriveFiles(h.sandbox)[0]?.cg__WIP__c, false)
})
