/**
 * The Store contract's console cases (run items page by page, runs by time
 * range, the outcome histogram, sessions), run by every adapter through
 * storeContract.
 */
import type { Test } from 'tap'
import type { ItemRecord, NewItem, RunRecord, Store } from '../../src/ports/store.js'

export interface ContractHelpers {
  open(t: Test): Promise<Store>
  newRun(store: Store, flow: string): Promise<RunRecord>
  newItem(ledgerKey: string, overrides?: Partial<NewItem>): NewItem
}

export function consoleStoreContract(t: Test, { open, newRun, newItem }: ContractHelpers): void {
  t.test('listRunItems pages a run’s items by id, optionally of one state', async (t) => {
    const store = await open(t)
    const run = await newRun(store, 'console-items')
    const other = await newRun(store, 'console-items')
    const { added } = await store.addItems(
      run.id,
      Array.from({ length: 23 }, (_, i) => newItem(`console-items/${run.id}/${i}`)),
    )
    await store.addItems(other.id, [newItem(`console-items/${other.id}/x`)])
    const failed = new Set<string>()
    for (const item of added.filter((_, i) => i % 4 === 0)) {
      await store.updateItem(item.id, { state: 'failed', error: { code: 'REMOTE_IO', message: 'x' } })
      failed.add(item.id)
    }
    const walk = async (state?: 'failed') => {
      const ids: string[] = []
      let cursor: string | undefined
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.listRunItems(run.id, {
          limit: 5,
          ...(state ? { state } : {}),
          ...(cursor ? { cursor } : {}),
        })
        t.ok(page.items.length <= 5)
        ids.push(...page.items.map((i: ItemRecord) => i.id))
        if (page.nextCursor === null) return ids
        cursor = page.nextCursor
      }
      throw new Error('paging does not end')
    }
    t.same(await walk(), added.map((i) => i.id).sort(), 'every item of the run once, by id; none of another')
    t.same(await walk('failed'), [...failed].sort(), 'the state filter')
    t.same(await store.listRunItems('run_missing', { limit: 5 }), { items: [], nextCursor: null })
    await t.rejects(store.listRunItems(run.id, { limit: 5, cursor: 'nope' }), { code: 'VALIDATION_FAILED' })
    await t.rejects(store.listRunItems(run.id, { limit: 0 }), { code: 'VALIDATION_FAILED' })
  })

  t.test('runSizes sums a run’s file sizes, and those finished or finalizing', async (t) => {
    const store = await open(t)
    const run = await newRun(store, 'console-sizes')
    const { added } = await store.addItems(
      run.id,
      [100, 200, 400, 800, 1600].map((size, i) => newItem(`console-sizes/${run.id}/${i}`, { size })),
    )
    const [a, b, c, d] = added as [ItemRecord, ItemRecord, ItemRecord, ItemRecord]
    await store.updateItem(a.id, { state: 'done' })
    await store.updateItem(b.id, { state: 'failed', error: { code: 'REMOTE_IO', message: 'x' } })
    await store.updateItem(c.id, { state: 'transferring' })
    await store.updateItem(d.id, { state: 'skipped' })
    t.same(await store.runSizes(run.id), { bytesTotal: 3100, bytesFinished: 1100 })
    t.same(await store.runSizes('run_missing'), { bytesTotal: 0, bytesFinished: 0 })
  })

  t.test('listRuns filters by a creation time range', async (t) => {
    const store = await open(t)
    const runs: RunRecord[] = []
    for (let i = 0; i < 6; i++) runs.push(await newRun(store, 'console-range'))
    const from = runs[1]!.createdAt
    const to = runs[4]!.createdAt
    const page = await store.listRuns({ flow: 'console-range', createdFrom: from, createdTo: to, limit: 50 })
    const expected = runs.filter((r) => r.createdAt >= from && r.createdAt < to).map((r) => r.id)
    t.same(
      page.runs.map((r) => r.id),
      expected.reverse(),
      'from inclusive, to exclusive, newest first',
    )
    t.ok(page.runs.length >= 1)
    await t.rejects(store.listRuns({ limit: 5, createdFrom: 'monday' }), {
      code: 'VALIDATION_FAILED',
      details: { field: 'from' },
    })
    await t.rejects(store.listRuns({ limit: 5, createdTo: 'friday' }), {
      code: 'VALIDATION_FAILED',
      details: { field: 'to' },
    })
  })

  t.test('outcomeHistogram counts outcomes per flow and hour', async (t) => {
    const store = await open(t)
    const since = new Date(Date.now() - 60_000).toISOString()
    const run = await newRun(store, 'console-chart')
    const { added } = await store.addItems(
      run.id,
      ['a', 'b', 'c', 'd'].map((n) => newItem(`console-chart/${run.id}/${n}`)),
    )
    const [a, b, c] = added as [ItemRecord, ItemRecord, ItemRecord]
    const done = await store.updateItem(a.id, { state: 'done' })
    await store.updateItem(b.id, { state: 'skipped' })
    await store.updateItem(c.id, { state: 'failed', error: { code: 'REMOTE_IO', message: 'x' } })
    const buckets = (await store.outcomeHistogram({ since })).filter((b) => b.flow === 'console-chart')
    const hour = `${done.updatedAt.slice(0, 13)}:00:00.000Z`
    const total = buckets.reduce((sum, b) => ({ done: sum.done + b.done, failed: sum.failed + b.failed }), {
      done: 0,
      failed: 0,
    })
    t.same(total, { done: 2, failed: 1 }, 'done and skipped count as done; pending is no outcome')
    t.ok(
      buckets.some((b) => b.hour === hour),
      'buckets start on the hour, ISO 8601 UTC',
    )
    const later = new Date(Date.now() + 3_600_000).toISOString()
    t.same(
      (await store.outcomeHistogram({ since: later })).filter((b) => b.flow === 'console-chart'),
      [],
    )
    await t.rejects(store.outcomeHistogram({ since: 'soon' }), { code: 'VALIDATION_FAILED' })
  })

  t.test('console sessions: live while used, gone when idle, expired or deleted', async (t) => {
    const store = await open(t)
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString()
    const idHash = `hash-${Math.random().toString(36).slice(2)}`
    await store.createSession({ idHash, createdAt: at(0), lastSeenAt: at(0), expiresAt: at(10_000) })
    const touched = await store.touchSession(idHash, { now: at(1000), idleSince: at(0) })
    t.same(touched, { idHash, createdAt: at(0), lastSeenAt: at(1000), expiresAt: at(10_000) })
    t.equal(
      await store.touchSession(idHash, { now: at(5000), idleSince: at(1001) }),
      null,
      'idle too long: not live',
    )
    t.ok(await store.touchSession(idHash, { now: at(5000), idleSince: at(1000) }), 'seen just in time')
    t.equal(
      await store.touchSession(idHash, { now: at(10_000), idleSince: at(0) }),
      null,
      'past its absolute expiry',
    )
    t.equal(await store.touchSession('hash-unknown', { now: at(1), idleSince: at(0) }), null)

    const other = `${idHash}-2`
    await store.createSession({ idHash: other, createdAt: at(0), lastSeenAt: at(0), expiresAt: at(10_000) })
    await store.deleteSession(other)
    t.equal(await store.touchSession(other, { now: at(1), idleSince: at(0) }), null, 'deleted')

    const stale = `${idHash}-3`
    await store.createSession({ idHash: stale, createdAt: at(0), lastSeenAt: at(0), expiresAt: at(10_000) })
    const removed = await store.deleteExpiredSessions({ now: at(6000), idleSince: at(4000) })
    t.ok(removed >= 1, 'the idle one is removed')
    t.ok(await store.touchSession(idHash, { now: at(6000), idleSince: at(4000) }), 'the live one stays')
    t.equal(await store.touchSession(stale, { now: at(6000), idleSince: at(0) }), null)
  })
}
