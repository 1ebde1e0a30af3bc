/** A run's progress measured from its totals is the progress measured from every item. */
import t from 'tap'
import type { ItemRecord, ItemState, RunRecord } from '../../src/ports/store.js'
import { runProgress, runProgressFromTotals } from '../../src/runs/run-progress.js'

const run: RunRecord = {
  id: 'run_1',
  flow: 'f',
  state: 'running',
  trigger: 'api',
  idempotencyKey: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: null,
  notes: [],
  error: null,
  request: null,
  notBefore: null,
  batches: [],
}

const item = (id: string, state: ItemState, size: number) => ({ id, state, size }) as unknown as ItemRecord

t.test('runProgressFromTotals agrees with runProgress', async (t) => {
  const items = [
    item('a', 'done', 100),
    item('b', 'skipped', 50),
    item('c', 'failed', 25),
    item('d', 'finalizing', 400),
    item('e', 'transferring', 1000),
    item('f', 'pending', 3000),
    item('g', 'transferring', 10),
  ]
  const inFlight = new Map([
    ['e', 600],
    ['g', 99],
    ['d', 400],
  ])
  const now = Date.parse(run.startedAt as string) + 10_000
  const counts = {
    total: 7,
    pending: 1,
    transferring: 2,
    finalizing: 1,
    done: 1,
    failed: 1,
    skipped: 1,
    bytesDone: 0,
  }
  const sizes = { bytesTotal: 4585, bytesFinished: 575 }
  const moving = [...inFlight].map(([id, bytes]) => ({ item: items.find((i) => i.id === id)!, bytes }))
  const fromTotals = runProgressFromTotals(run, counts, sizes, moving, now)
  t.same(fromTotals, runProgress(run, items, inFlight, now))
  t.match(fromTotals, {
    filesDone: 2,
    filesFailed: 1,
    filesTotal: 7,
    bytesDone: 575 + 600 + 10,
    bytesTotal: 4585,
  })
  t.equal(fromTotals.etaSeconds, Math.ceil((4585 - 1185) / (1185 / 10)))
})
