import t from 'tap'
import { firstLook, isMarker, ledgerKey, markerName, secondLook } from '../../src/domain/readiness.js'

const file = { path: '/in/a.pdf', name: 'a.pdf', size: 10, modifiedAt: 1_000_000 }

t.test('stable mode: minimum age, then an unchanged second look', async (t) => {
  const r = { mode: 'stable' as const, stableSeconds: 5, minAgeSeconds: 60 }
  t.equal(firstLook(file, r, new Set(), 1_000_000 + 30_000).ready, false)
  t.equal(firstLook(file, r, new Set(), 1_000_000 + 60_000).ready, true)
  t.equal(secondLook(file, { ...file }).ready, true)
  t.equal(secondLook(file, { ...file, size: 11 }).ready, false)
  t.equal(secondLook(file, { ...file, modifiedAt: 1_000_001 }).ready, false)
  t.equal(secondLook(file, undefined).ready, false)
})

t.test('done-marker mode', async (t) => {
  const r = { mode: 'doneMarker' as const, suffix: '.done' }
  t.equal(firstLook(file, r, new Set(['a.pdf']), 0).ready, false)
  t.equal(firstLook(file, r, new Set(['a.pdf', 'a.pdf.done']), 0).ready, true)
  t.equal(isMarker('a.pdf.done', r), true)
  t.equal(isMarker('a.pdf', r), false)
  t.equal(markerName('a.pdf', r), 'a.pdf.done')
})

t.test('ledger key changes with size or mtime', async (t) => {
  t.not(ledgerKey('e', file), ledgerKey('e', { ...file, size: 11 }))
  t.not(ledgerKey('e', file), ledgerKey('e', { ...file, modifiedAt: 2 }))
  t.not(ledgerKey('e', file), ledgerKey('f', file))
  t.equal(ledgerKey('e', file), ledgerKey('e', { ...file }))
})
