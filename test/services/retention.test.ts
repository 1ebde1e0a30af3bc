/**
 * The pruner on a real SQLite store: a simulated year of 15-minute schedules
 * stays bounded, the timer runs a first pass shortly after start, 0 days
 * keeps everything, and close() stops it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import { type StoreSnapshot, simulateYear, ticksPerDay } from '../../bench/year-of-schedules.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { defaultRetention, type RetentionConfig } from '../../src/config/schema.js'
import type { RetentionKind } from '../../src/ports/metrics.js'
import type { Store } from '../../src/ports/store.js'
import { createRetentionService } from '../../src/services/retention.js'

const dayMs = 86_400_000
const MiB = 1024 * 1024

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-retention-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const config: RetentionConfig = defaultRetention()

t.test('a simulated year of 15-minute schedules: the store stops growing after a month', async (t) => {
  const snapshots: StoreSnapshot[] = []
  const year = await simulateYear({ dir: tempDir(t), retention: true, onSnapshot: (s) => snapshots.push(s) })
  t.equal(year.files, 365 * ticksPerDay, '35,040 ticks, one file each')
  const atDay60 = snapshots.find((s) => s.day === 60)!
  const last = snapshots[snapshots.length - 1]!
  t.equal(last.day, 365)
  // 30 days of runs and one day's worth more (a run becomes prunable a day after the cutoff passes it).
  const window = 31 * (ticksPerDay + 1)
  for (const s of snapshots.filter((s) => s.day >= 60)) {
    t.ok(s.rows.runs <= window, `day ${s.day}: ${s.rows.runs} runs (≤ ${window})`)
    t.ok(s.rows.items <= 31 * (ticksPerDay + 2), `day ${s.day}: ${s.rows.items} items`)
    t.ok(s.rows.idempotency <= window, `day ${s.day}: ${s.rows.idempotency} idempotency keys`)
    t.ok(
      s.prunableBytes <= atDay60.prunableBytes * 1.1,
      `day ${s.day}: runs, items, keys and reviews take ${(s.prunableBytes / MiB).toFixed(2)} MiB (day 60: ${(atDay60.prunableBytes / MiB).toFixed(2)} MiB)`,
    )
  }
  t.equal(last.rows.ledger, year.files + 2 * 365, 'the ledger keeps every file (schedules and exports)')
  t.ok(last.rows.reviews >= year.openReviews.length, 'open reviews survive')
  t.ok(last.rows.reviews <= year.openReviews.length + 31, 'closed reviews are pruned')
  // The file grows by the ledger alone: pages freed by pruning are reused (no VACUUM, so it never shrinks).
  const ledgerGrowth = last.ledgerBytes - atDay60.ledgerBytes
  t.ok(
    last.fileBytes <= atDay60.fileBytes + ledgerGrowth + 2 * MiB,
    `file ${(last.fileBytes / MiB).toFixed(1)} MiB at day 365, ${(atDay60.fileBytes / MiB).toFixed(1)} MiB at day 60, ledger +${(ledgerGrowth / MiB).toFixed(1)} MiB`,
  )
  // Every day past the first 30: a day's runs, items and keys (96 each), a job, its items and key, a review.
  t.ok(year.pruned.rows >= 330 * 3 * ticksPerDay, `${year.pruned.rows} rows pruned`)
})

t.test('without new files, the file itself stops growing', async (t) => {
  const snapshots: StoreSnapshot[] = []
  await simulateYear({
    dir: tempDir(t),
    retention: true,
    days: 150,
    filesPerTick: 0,
    onSnapshot: (s) => snapshots.push(s),
  })
  const atDay60 = snapshots.find((s) => s.day === 60)!
  const last = snapshots[snapshots.length - 1]!
  t.ok(
    last.fileBytes <= atDay60.fileBytes * 1.1,
    `${(last.fileBytes / MiB).toFixed(2)} MiB at day 150, ${(atDay60.fileBytes / MiB).toFixed(2)} MiB at day 60`,
  )
})

async function storeWithOldRuns(t: Test, now: () => number, count: number): Promise<Store> {
  const store = createSqliteStore({ path: join(tempDir(t), 'bridge.sqlite'), now })
  t.teardown(() => store.close())
  await store.migrate()
  const runs = await Promise.all(
    Array.from({ length: count }, () => store.createRun({ flow: 'inbox', trigger: 'schedule' })),
  )
  await Promise.all(
    runs.map((r) =>
      store.updateRun(r.run.id, { state: 'succeeded', finishedAt: new Date(now()).toISOString() }),
    ),
  )
  return store
}

t.test(
  'the timer runs a first pass shortly after start, in batches, and counts what it pruned',
  async (t) => {
    let now = Date.parse('2026-01-01T00:00:00.000Z')
    const store = await storeWithOldRuns(t, () => now, 1200)
    now += 31 * dayMs
    const counted: [RetentionKind, number][] = []
    let firstPass: () => void = () => {}
    const passed = new Promise<void>((resolve) => {
      firstPass = resolve
    })
    const service = createRetentionService({
      store,
      clock: { now: () => now, sleep: async () => {} },
      logger: pino({ level: 'silent' }),
      config: { ...config, startDelayMs: 10, batchSize: 500 },
      exportFlows: [],
      onPruned: (kind, rows) => {
        counted.push([kind, rows])
        if (counted.reduce((sum, [, n]) => sum + n, 0) === 1200) firstPass()
      },
    })
    t.teardown(() => service.close())
    // The pruner's timer does not hold the process open (a server does); here nothing else would.
    const keepAlive = setInterval(() => {}, 1000)
    t.teardown(() => clearInterval(keepAlive))
    service.start()
    await passed
    t.same(counted, [
      ['runs', 500],
      ['runs', 500],
      ['runs', 200],
    ])
    t.same((await store.listRuns({ limit: 10 })).runs, [])
    await service.close()
    await service.close()
  },
)

t.test('0 days keeps every kind forever', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00.000Z')
  const store = await storeWithOldRuns(t, () => now, 3)
  now += 3650 * dayMs
  const service = createRetentionService({
    store,
    clock: { now: () => now, sleep: async () => {} },
    logger: pino({ level: 'silent' }),
    config: { ...config, runDays: 0, exportJobDays: 0, reviewDays: 0 },
    exportFlows: ['outbox'],
  })
  t.teardown(() => service.close())
  const pass = await service.pruneNow()
  t.equal(pass.batches, 0)
  t.equal((await store.listRuns({ limit: 10 })).runs.length, 3)
})

t.test('a run holding a recent idempotency key outlives its own cutoff', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00.000Z')
  const store = createSqliteStore({ path: join(tempDir(t), 'bridge.sqlite'), now: () => now })
  t.teardown(() => store.close())
  await store.migrate()
  const keyed = await store.createRun({ flow: 'inbox', trigger: 'api', idempotencyKey: 'k-1' })
  await store.updateRun(keyed.run.id, { state: 'succeeded', finishedAt: new Date(now).toISOString() })
  now += 31 * dayMs
  const service = createRetentionService({
    store,
    clock: { now: () => now, sleep: async () => {} },
    logger: pino({ level: 'silent' }),
    config: { ...config, runDays: 30, idempotencyKeyDays: 90 },
    exportFlows: [],
  })
  t.teardown(() => service.close())
  t.equal((await service.pruneNow()).pruned.runs, 0, 'day 31: the key (90 days) keeps it')
  t.equal(
    (await store.createRun({ flow: 'inbox', trigger: 'api', idempotencyKey: 'k-1' })).outcome,
    'existing',
  )
  now += 60 * dayMs
  t.match((await service.pruneNow()).pruned, { runs: 1, idempotency_keys: 1 }, 'day 91: both go')
})
