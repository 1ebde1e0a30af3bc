import t from 'tap'
import { batchByKey } from '../../src/domain/batching.js'
import { assertTransition, canTransition, finalRunState } from '../../src/domain/item-state.js'
import { renderTemplate, templatePlaceholders } from '../../src/domain/templates.js'

t.test('item transitions', async (t) => {
  t.ok(canTransition('pending', 'transferring'))
  t.ok(canTransition('transferring', 'finalizing'))
  t.ok(canTransition('transferring', 'pending'))
  t.ok(canTransition('finalizing', 'done'))
  t.ok(canTransition('failed', 'pending'))
  t.notOk(canTransition('done', 'transferring'))
  t.notOk(canTransition('skipped', 'pending'))
  t.throws(() => assertTransition('done', 'pending'), { code: 'INTERNAL' })
})

const counts = (o: Partial<Record<string, number>>) => ({
  total: 0,
  pending: 0,
  transferring: 0,
  finalizing: 0,
  done: 0,
  failed: 0,
  skipped: 0,
  bytesDone: 0,
  ...o,
})

t.test('run end state from counts', async (t) => {
  t.equal(finalRunState(counts({ pending: 1 })), null)
  t.equal(finalRunState(counts({})), 'succeeded')
  t.equal(finalRunState(counts({ done: 2, skipped: 1 })), 'succeeded')
  t.equal(finalRunState(counts({ done: 2, failed: 1 })), 'partially_failed')
  t.equal(finalRunState(counts({ failed: 1 })), 'failed')
})

t.test('batches by key, capped by files and bytes', async (t) => {
  const items = [
    { k: 'a', s: 10 },
    { k: 'b', s: 10 },
    { k: 'a', s: 10 },
    { k: 'a', s: 10 },
    { k: 'a', s: 100 },
  ]
  const batches = batchByKey(
    items,
    (i) => i.k,
    (i) => i.s,
    { maxFiles: 2, maxBytes: 50 },
  )
  t.same(batches, [[items[0], items[2]], [items[3]], [items[4]], [items[1]]])
})

t.test('templates', async (t) => {
  t.equal(renderTemplate('From {flow}: {file.name}', { flow: 'f', 'file.name': 'a.pdf' }), 'From f: a.pdf')
  t.same(templatePlaceholders('{a}/{b.c}'), ['a', 'b.c'])
  t.throws(() => renderTemplate('{nope}', {}), { code: 'VALIDATION_FAILED' })
})
