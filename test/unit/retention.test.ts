import t from 'tap'
import { retentionCutoffs } from '../../src/domain/retention.js'

const now = Date.parse('2026-12-03T12:00:00.000Z')
const days = { runDays: 30, exportJobDays: 7, reviewDays: 90, idempotencyKeyDays: 1 }

t.test('each kind is cut off its own number of days before now', async (t) => {
  t.same(retentionCutoffs(now, days), {
    runsFinishedBefore: '2026-11-03T12:00:00.000Z',
    exportJobsFinishedBefore: '2026-11-26T12:00:00.000Z',
    reviewsUpdatedBefore: '2026-09-04T12:00:00.000Z',
    keysCreatedBefore: '2026-12-02T12:00:00.000Z',
  })
})

t.test('0 days keeps a kind forever', async (t) => {
  const cutoffs = retentionCutoffs(now, {
    runDays: 0,
    exportJobDays: 0,
    reviewDays: 0,
    idempotencyKeyDays: 0,
  })
  t.equal(cutoffs.runsFinishedBefore, null)
  t.equal(cutoffs.exportJobsFinishedBefore, null)
  t.equal(cutoffs.reviewsUpdatedBefore, null)
  t.equal(cutoffs.keysCreatedBefore, '1970-01-01T00:00:00.000Z', 'no key is older: a run holding one stays')
})
