/**
 * A simulated year of 15-minute schedules on the embedded store, with or
 * without retention: 96 schedule ticks a day (each a run with an idempotency
 * key and `filesPerTick` files), one export job and one rejection a day.
 * Time is injected (the store's clock and the pruner's), and the writes of
 * one step of a day are issued together so they share a group commit: a
 * year takes seconds, not a year. Used by bench/retention.ts and by
 * test/services/retention.test.ts.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Database from 'better-sqlite3'
import pino from 'pino'
import { createSqliteStore } from '../src/adapters/store/sqlite.js'
import { defaultRetention, type RetentionConfig } from '../src/config/schema.js'
import type { Store } from '../src/ports/store.js'
import { createRetentionService, type RetentionPass } from '../src/services/retention.js'

const dayMs = 86_400_000
const tickMs = 15 * 60_000
export const ticksPerDay = dayMs / tickMs

export interface YearOptions {
  /** A directory of its own: the database file goes there. */
  dir: string
  retention: boolean
  days?: number
  filesPerTick?: number
  /** Every this many days a rejection stays open (awaiting its resubmission). */
  openReviewEveryDays?: number
  /** Called after each simulated month (30 days) and after the last day. */
  onSnapshot?: (snapshot: StoreSnapshot) => void
}

export interface StoreSnapshot {
  day: number
  rows: { runs: number; items: number; idempotency: number; ledger: number; reviews: number }
  /** The database file plus its WAL. */
  fileBytes: number
  /** Pages used by the ledger and its indexes (dbstat). */
  ledgerBytes: number
  /** Pages used by everything else that retention prunes: runs, items, idempotency, reviews, their indexes. */
  prunableBytes: number
  /** Pages on the free list: deleted rows' space, reused by later inserts. */
  freeBytes: number
}

export interface YearResult {
  snapshots: StoreSnapshot[]
  files: number
  openReviews: string[]
  /** Totals over every retention pass. */
  pruned: { rows: number; ms: number; passes: number; longestBatchMs: number; maxLoopDelayMs: number }
}

const retentionConfig: RetentionConfig = defaultRetention()

export async function simulateYear(options: YearOptions): Promise<YearResult> {
  const days = options.days ?? 365
  const filesPerTick = options.filesPerTick ?? 1
  const openEvery = options.openReviewEveryDays ?? 30
  const path = join(options.dir, 'bridge.sqlite')
  let now = Date.parse('2026-01-01T00:00:00.000Z')
  const store = timedPrune(createSqliteStore({ path, now: () => now }))
  await store.store.migrate()
  const retention = createRetentionService({
    store: store.store,
    clock: { now: () => now, sleep: async () => {} },
    logger: pino({ level: 'silent' }),
    config: retentionConfig,
    exportFlows: ['outbox'],
  })
  const snapshots: StoreSnapshot[] = []
  const openReviews: string[] = []
  const pruned = { rows: 0, ms: 0, passes: 0, longestBatchMs: 0, maxLoopDelayMs: 0 }
  // How long the event loop was held during passes (SQLite runs a batch and its commit synchronously).
  const loopDelay = monitorEventLoopDelay({ resolution: 5 })
  let files = 0
  try {
    for (let day = 0; day < days; day++) {
      const dayStart = Date.parse('2026-01-01T00:00:00.000Z') + day * dayMs
      now = dayStart
      files += await scheduleTicks(store.store, dayStart, filesPerTick, () => files)
      await exportJob(store.store, day, dayStart)
      const review = await rejection(store.store, day, day % openEvery === 0)
      if (review) openReviews.push(review)
      now = dayStart + dayMs - 1
      if (options.retention) {
        const started = performance.now()
        loopDelay.enable()
        const pass: RetentionPass = await retention.pruneNow()
        loopDelay.disable()
        pruned.ms += performance.now() - started
        pruned.rows += Object.values(pass.pruned).reduce((a, b) => a + b, 0)
        pruned.passes += 1
      }
      if ((day + 1) % 30 === 0 || day === days - 1) {
        const snapshot = measureStore(path, day + 1)
        snapshots.push(snapshot)
        options.onSnapshot?.(snapshot)
      }
    }
  } finally {
    await retention.close()
    await store.store.close()
  }
  pruned.longestBatchMs = store.longestBatchMs()
  pruned.maxLoopDelayMs = options.retention ? loopDelay.max / 1e6 : 0
  return { snapshots, files, openReviews, pruned }
}

/** The store, with the duration of each prune batch recorded (what one batch holds the event loop for). */
function timedPrune(store: Store): { store: Store; longestBatchMs: () => number } {
  let longest = 0
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    try {
      return await call()
    } finally {
      longest = Math.max(longest, performance.now() - started)
    }
  }
  return {
    store: {
      ...store,
      pruneRuns: (q) => timed(() => store.pruneRuns(q)),
      pruneReviews: (q) => timed(() => store.pruneReviews(q)),
    },
    longestBatchMs: () => longest,
  }
}

async function scheduleTicks(
  store: Store,
  dayStart: number,
  filesPerTick: number,
  filesSoFar: () => number,
): Promise<number> {
  const ticks = Array.from({ length: ticksPerDay }, (_, i) => dayStart + i * tickMs)
  const runs = await Promise.all(
    ticks.map((tick) =>
      store.createRun({
        flow: 'inbox',
        trigger: 'schedule',
        idempotencyKey: `schedule:inbox:${new Date(tick).toISOString()}`,
      }),
    ),
  )
  let n = filesSoFar()
  const added = await Promise.all(
    runs.map((r) =>
      store.addItems(
        r.run.id,
        Array.from({ length: filesPerTick }, () => {
          n += 1
          const name = `invoice-${String(n).padStart(7, '0')}.pdf`
          return {
            endpoint: 'partner-sftp',
            path: `/outgoing/invoices/${name}`,
            name,
            size: 180_000 + (n % 5000),
            modifiedAt: dayStart,
            ledgerKey: `partner-sftp\u0000/outgoing/invoices/${name}\u0000${180_000 + (n % 5000)}\u0000${dayStart}`,
            target: {
              object: 'Account',
              recordId: `001${String(n).padStart(12, '0')}AAA`,
              fileObject: 'cg__AccountFile__c',
              parentField: 'cg__Account__c',
              folder: 'Invoices/{Year}',
              description: 'Invoice from the partner portal',
            },
          }
        }),
      ),
    ),
  )
  await Promise.all(
    added.flatMap((a) =>
      a.added.map((item) =>
        store.updateItem(item.id, {
          state: 'done',
          attempts: 1,
          sdriveFileId: `a0B${item.id.slice(-12)}AAA`,
          sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          bytesTransferred: item.size,
          finalPath: `/outgoing/invoices/processed/${item.name}`,
        }),
      ),
    ),
  )
  await Promise.all(
    runs.map((r, i) =>
      store.updateRun(r.run.id, {
        state: 'succeeded',
        startedAt: new Date(ticks[i]!).toISOString(),
        finishedAt: new Date(ticks[i]! + 60_000).toISOString(),
      }),
    ),
  )
  return filesPerTick * ticksPerDay
}

async function exportJob(store: Store, day: number, dayStart: number): Promise<void> {
  const { run } = await store.createRun({
    flow: 'outbox',
    trigger: 'api',
    idempotencyKey: `job-${day}`,
    requestHash: 'h',
    request: { recordIds: ['001000000000001AAA', '001000000000002AAA'] },
  })
  const { added } = await store.addItems(
    run.id,
    [1, 2].map((i) => ({
      endpoint: 'partner-sftp',
      path: `/incoming/day-${day}-${i}.pdf`,
      name: `day-${day}-${i}.pdf`,
      size: 50_000,
      modifiedAt: dayStart,
      ledgerKey: `export:${run.id}:a0B${String(day * 2 + i).padStart(12, '0')}AAA`,
      target: {
        object: 'Account',
        recordId: `001${String(i).padStart(12, '0')}AAA`,
        fileObject: 'cg__AccountFile__c',
        parentField: 'cg__Account__c',
        folder: null,
        description: null,
      },
    })),
  )
  await Promise.all(added.map((item) => store.updateItem(item.id, { state: 'done' })))
  await store.updateRun(run.id, {
    state: 'succeeded',
    finishedAt: new Date(dayStart + 3_600_000).toISOString(),
  })
}

/** A rejection, resubmitted the same day unless it is left open; returns the open one's id. */
async function rejection(store: Store, day: number, leaveOpen: boolean): Promise<string | null> {
  const correlationId = `rv-${String(day).padStart(8, '0')}`
  await store.createReview({
    correlationId,
    flow: 'inbox',
    fileId: `a0B${String(day).padStart(12, '0')}AAA`,
    fileObject: 'cg__AccountFile__c',
    parentField: 'cg__Account__c',
    recordId: '001000000000001AAA',
    object: 'Account',
    originalName: `contract-${day}.pdf`,
    returnedName: `contract-${day}__${correlationId}.pdf`,
    reasonCode: 'UNSIGNED',
    reason: 'The contract is not signed',
    notify: null,
    previousCorrelationId: null,
  })
  await store.updateReview(correlationId, {
    state: 'rejected',
    returnedPath: `/rejected/contract-${day}.pdf`,
  })
  if (leaveOpen) return correlationId
  await store.updateReview(correlationId, { state: 'resubmitted' })
  return null
}

export function measureStore(path: string, day: number): StoreSnapshot {
  const db = new Database(path, { readonly: true })
  try {
    const count = (table: string) =>
      db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()!.n
    const pages = db
      .prepare<[], { name: string; tbl: string; bytes: number }>(
        `SELECT d.name, coalesce(m.tbl_name, d.name) AS tbl, sum(d.pgsize) AS bytes
         FROM dbstat d LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY d.name`,
      )
      .all()
    const bytesOf = (tables: string[]) =>
      pages.filter((p) => tables.includes(p.tbl)).reduce((sum, p) => sum + p.bytes, 0)
    const pageSize = db.pragma('page_size', { simple: true }) as number
    const free = db.pragma('freelist_count', { simple: true }) as number
    const wal = `${path}-wal`
    let walBytes = 0
    try {
      walBytes = statSync(wal).size
    } catch {}
    return {
      day,
      rows: {
        runs: count('runs'),
        items: count('items'),
        idempotency: count('idempotency'),
        ledger: count('ledger'),
        reviews: count('reviews'),
      },
      fileBytes: statSync(path).size + walBytes,
      ledgerBytes: bytesOf(['ledger']),
      prunableBytes: bytesOf(['runs', 'items', 'idempotency', 'reviews', 'run_leases']),
      freeBytes: free * pageSize,
    }
  } finally {
    db.close()
  }
}
