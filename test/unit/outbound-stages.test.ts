import t from 'tap'
import { BridgeError } from '../../src/domain/errors.js'
import { commonDirectory } from '../../src/flows/outbound/companions.js'
import { exportRequestHash, validateRequest } from '../../src/flows/outbound/request.js'
import { stateAfterWriteBack } from '../../src/flows/outbound/write-back.js'

t.test('companions go to the deepest folder every delivered file shares', async (t) => {
  t.equal(commonDirectory([]), '/')
  t.equal(commonDirectory(['/out/a/x', '/out/a/y']), '/out/a')
  t.equal(commonDirectory(['/out/a', '/in/a']), '/')
  t.equal(commonDirectory(['/out/a/']), '/out/a')
})

t.test('the request hash ignores the order of ids and metadata', async (t) => {
  const a = exportRequestHash('f', { recordIds: ['b', 'a'], metadata: { y: '1', x: '2' } })
  const b = exportRequestHash('f', { recordIds: ['a', 'b'], metadata: { x: '2', y: '1' } })
  t.equal(a, b)
  t.not(a, exportRequestHash('g', { recordIds: ['a', 'b'], metadata: { x: '2', y: '1' } }))
})

t.test('a request names at least one Salesforce id', async (t) => {
  t.throws(() => validateRequest({}), { code: 'VALIDATION_FAILED' })
  t.throws(() => validateRequest({ fileIds: ['nope'] }), { code: 'VALIDATION_FAILED' })
  t.doesNotThrow(() => validateRequest({ recordIds: ['006000000000001'] }))
})

t.test('a failed write-back shows in the job state', async (t) => {
  const failed = new BridgeError('WRITE_BACK_FAILED', 'x')
  t.equal(stateAfterWriteBack('succeeded', null), 'succeeded')
  t.equal(stateAfterWriteBack('succeeded', failed), 'partially_failed')
  t.equal(stateAfterWriteBack('nothing_to_export', failed), 'failed')
  t.equal(stateAfterWriteBack('partially_failed', failed), 'partially_failed')
})
