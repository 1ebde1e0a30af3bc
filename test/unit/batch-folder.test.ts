/**
 * The pure decisions of atomic batches: which folder a file belongs to,
 * what a folder's stored items say about its batch (open, complete,
 * committed, aborted) and what undoing it asks of each file; and the
 * console dry-run page that shows an atomic flow's batches.
 */
import t from 'tap'
import { renderDocument } from '../../src/console/html.js'
import { dryRunPage } from '../../src/console/pages/dry-run.js'
import {
  abortPlanOf,
  batchFolderOf,
  culpritsText,
  folderVerdict,
  groupByFolder,
} from '../../src/domain/batch-folder.js'
import type { ItemRecord, ItemState, ItemTarget } from '../../src/ports/store.js'

const target: ItemTarget = {
  object: 'Account',
  recordId: '001000000000001AAA',
  fileObject: 'cg__AccountFile__c',
  parentField: 'cg__Account__c',
  folder: null,
  description: null,
}

function item(
  path: string,
  state: ItemState,
  more: { sdriveFileId?: string; wipFileId?: string; code?: string; target?: Partial<ItemTarget> } = {},
): ItemRecord {
  return {
    id: path,
    path,
    name: path.slice(path.lastIndexOf('/') + 1),
    state,
    sdriveFileId: more.sdriveFileId ?? null,
    wipFileId: more.wipFileId ?? null,
    error: more.code ? { code: more.code, message: 'why' } : null,
    target: { ...target, ...more.target },
  } as unknown as ItemRecord
}

const ready = () => true

t.test('a batch is the posix folder of the file', async (t) => {
  t.equal(batchFolderOf('/in/spring/a.pdf'), '/in/spring')
  t.equal(batchFolderOf('/in/a.pdf'), '/in')
  const groups = groupByFolder([
    item('/in/b/2.pdf', 'pending'),
    item('/in/a/1.pdf', 'pending'),
    item('/in/b/1.pdf', 'pending'),
  ])
  t.same([...groups.keys()], ['/in/a', '/in/b'], 'folders in order')
  t.same(
    groups.get('/in/b')?.map((i) => i.path),
    ['/in/b/1.pdf', '/in/b/2.pdf'],
    'files in path order',
  )
})

t.test('folderVerdict', async (t) => {
  const uploaded = (p: string) => item(p, 'finalizing', { sdriveFileId: `id-${p}` })
  t.same(
    folderVerdict([uploaded('/a'), item('/b', 'pending')], ready),
    { kind: 'open' },
    'a file is on its way',
  )
  t.same(folderVerdict([uploaded('/a'), item('/b', 'transferring')], ready), { kind: 'open' })
  t.same(folderVerdict([uploaded('/a'), uploaded('/b')], ready), { kind: 'complete' })
  t.same(
    folderVerdict([uploaded('/a'), uploaded('/b')], (i) => i.path !== '/b'),
    { kind: 'open' },
    'a file still waiting for its folder or fields keeps the batch open',
  )
  const culprit = item('/c', 'failed', { code: 'CHECKSUM_MISMATCH' })
  const aborted = folderVerdict(
    [uploaded('/a'), item('/b', 'failed', { code: 'BATCH_ABORTED' }), culprit],
    ready,
  )
  t.equal(aborted.kind, 'aborted')
  t.same(
    aborted.kind === 'aborted' ? aborted.culprits.map((c) => c.path) : [],
    ['/c'],
    'only a failure of its own makes a culprit, not one caused by the batch',
  )
  t.same(
    folderVerdict(
      [item('/a', 'done'), item('/b', 'failed', { code: 'REMOTE_IO', sdriveFileId: 'x' })],
      ready,
    ),
    { kind: 'committed' },
    'once a file is tidied up, a later failure of the tidy-up does not undo the batch',
  )
  t.same(
    folderVerdict(
      [uploaded('/a'), item('/b', 'failed', { code: 'REMOTE_IO', target: { batchCommitted: true } })],
      ready,
    ),
    { kind: 'committed' },
    'the stored commit mark decides after a restart',
  )
})

t.test('abortPlanOf: what undoing a batch asks of each file', async (t) => {
  const plan = abortPlanOf([
    item('/uploaded', 'finalizing', { sdriveFileId: 'f1' }),
    item('/fields-refused', 'failed', { sdriveFileId: 'f2', code: 'FIELDS_REFUSED' }),
    item('/checksum', 'failed', { code: 'CHECKSUM_MISMATCH' }),
    item('/waiting', 'pending'),
    item('/in-flight', 'transferring'),
    item('/put-answer-lost', 'pending', { wipFileId: 'w1' }),
    item('/ticket-asked', 'pending', { target: { uploadRequested: true } }),
    item('/skip-policy', 'finalizing', { sdriveFileId: 'old', target: { alreadyInSDrive: true } }),
    item('/refused-before', 'failed', {
      sdriveFileId: 'f3',
      code: 'BATCH_ROLLBACK_FAILED',
      target: { rollbackFailed: true },
    }),
    item('/rolled-back', 'failed', { code: 'BATCH_ROLLED_BACK', target: { rolledBackId: 'f4' } }),
  ])
  t.same(
    plan.rollBack.map((i) => i.path),
    ['/uploaded', '/fields-refused'],
    'uploads of this run are removed, whatever state their item is in',
  )
  t.same(
    plan.abort.map((i) => i.path),
    ['/waiting', '/skip-policy'],
    'nothing uploaded: left out; a file already in S-Drive before is not touched',
  )
  t.same(
    plan.inFlight.map((i) => i.path),
    ['/in-flight', '/put-answer-lost', '/ticket-asked'],
    'a cut transfer, or a try that may have left a WIP record or a completed upload, is reconciled first',
  )
  t.same(abortPlanOf([item('/rolled-back', 'failed', { code: 'BATCH_ROLLED_BACK' })]), {
    rollBack: [],
    abort: [],
    inFlight: [],
  })
})

t.test('culpritsText names the files and their codes', async (t) => {
  t.equal(
    culpritsText([
      item('/in/a.pdf', 'failed', { code: 'CHECKSUM_MISMATCH' }),
      item('/in/b.pdf', 'failed', { code: 'NO_MATCHING_RECORD' }),
    ]),
    'a.pdf (CHECKSUM_MISMATCH), b.pdf (NO_MATCHING_RECORD)',
  )
})

t.test("the console's dry-run page shows an atomic flow's batches", async (t) => {
  const page = renderDocument(
    dryRunPage('catalogue', [], 'csrf-token', [
      { folder: '/catalogue/spring', files: 3, failing: 1, outcome: 'abort' },
    ]),
  )
  t.match(page, /Atomic batches/)
  t.match(
    page,
    /<td class="path">\/catalogue\/spring<\/td>\s*<td class="num">3<\/td>\s*<td class="num">1<\/td>\s*<td>abort<\/td>/,
  )
  t.notMatch(renderDocument(dryRunPage('plain', [], 'csrf-token')), /Atomic batches/)
})
