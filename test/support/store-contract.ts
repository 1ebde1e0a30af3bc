/**
 * The Store contract: every adapter (SQLite, PostgreSQL) runs this suite.
 *
 * `makeStore` must open a NEW Store instance on the SAME database each time it
 * is called, and that database must start empty for this suite. The suite
 * opens several instances (to race two writers, and to check that data
 * survives a reopen), calls migrate() on each, and closes all of them. Cases
 * stay independent by using their own flow names and ledger keys, and by
 * measuring global counts as differences.
 *
 * `previousSchema` opens a NEW, empty database of the same kind, migrated by
 * the previous migration set only (001), to check that a database made by the
 * last release migrates forward with its data.
 */
import type { Test } from 'tap'
import type {
  ItemRecord,
  ItemState,
  NewItem,
  NewOutboxMessage,
  OutboxMessage,
  RunRecord,
  RunState,
  Store,
} from '../../src/ports/store.js'
import { consoleStoreContract } from './store-contract-console.js'

export interface PreviousSchemaDatabase {
  /** A store on it with only the previous migrations applied (runs cannot be created through it). */
  store: Store
  /**
   * Runs one statement on it directly, `?` marking parameters. Timestamps and
   * JSON are passed as text, which both SQLite and PostgreSQL store in their
   * column's type.
   */
  exec(sql: string, params?: (string | number | null)[]): Promise<void>
  /** A new store on the same database with every migration, not yet migrated. */
  reopen(): Store
}

export function storeContract(
  t: Test,
  makeStore: () => Promise<Store>,
  previousSchema: (t: Test) => Promise<PreviousSchemaDatabase>,
): void {
  async function open(tt: Test): Promise<Store> {
    const store = await makeStore()
    tt.teardown(() => store.close())
    await store.migrate()
    return store
  }

  function newItem(ledgerKey: string, overrides: Partial<NewItem> = {}): NewItem {
    const name = ledgerKey.split('/').pop() ?? ledgerKey
    return {
      endpoint: 'partner-sftp',
      path: `/inbox/${name}`,
      name,
      size: 1024,
      modifiedAt: 1_700_000_000_000,
      ledgerKey,
      target: null,
      ...overrides,
    }
  }

  async function newRun(store: Store, flow: string): Promise<RunRecord> {
    const result = await store.createRun({ flow, trigger: 'api' })
    return result.run
  }

  consoleStoreContract(t, { open, newRun, newItem })

  t.test('migrate is safe to run again', async (t) => {
    const store = await open(t)
    await store.migrate()
    await store.migrate()
    await store.ping()
    const run = await newRun(store, 'migrate')
    t.equal((await store.getRun(run.id))?.id, run.id)
  })

  t.test('createRun creates a queued run with empty progress fields', async (t) => {
    const store = await open(t)
    const result = await store.createRun({ flow: 'create', trigger: 'schedule' })
    t.equal(result.outcome, 'created')
    const run = result.run
    t.match(run.id, /^run_[0-9a-z]+$/)
    t.match(run, {
      flow: 'create',
      state: 'queued',
      trigger: 'schedule',
      idempotencyKey: null,
      startedAt: null,
      finishedAt: null,
      notes: [],
      error: null,
      request: null,
      notBefore: null,
      batches: [],
    })
    t.ok(Number.isFinite(Date.parse(run.createdAt)), 'createdAt is an ISO timestamp')
    t.same(await store.getRun(run.id), run)
    t.equal(await store.getRun('run_missing'), null)
  })

  t.test('idempotency keys', async (t) => {
    const store = await open(t)
    const first = await store.createRun({
      flow: 'idem',
      trigger: 'api',
      idempotencyKey: 'key-1',
      requestHash: 'hash-a',
    })
    t.equal(first.outcome, 'created')
    t.equal(first.run.idempotencyKey, 'key-1')

    const again = await store.createRun({
      flow: 'idem',
      trigger: 'api',
      idempotencyKey: 'key-1',
      requestHash: 'hash-a',
    })
    t.equal(again.outcome, 'existing', 'same key and same request → the existing run')
    t.same(again.run, first.run)

    const conflict = await store.createRun({
      flow: 'idem',
      trigger: 'api',
      idempotencyKey: 'key-1',
      requestHash: 'hash-b',
    })
    t.equal(conflict.outcome, 'conflict', 'same key, different request → conflict')
    t.equal(conflict.run.id, first.run.id, 'a conflict reports the run that owns the key')

    const otherFlow = await store.createRun({ flow: 'idem-other', trigger: 'api', idempotencyKey: 'key-2' })
    t.equal(otherFlow.outcome, 'created')
    const sameWithoutHash = await store.createRun({
      flow: 'idem-other',
      trigger: 'api',
      idempotencyKey: 'key-2',
    })
    t.equal(sameWithoutHash.outcome, 'existing', 'no hash on either side is the same request')
    const keyForOtherFlow = await store.createRun({ flow: 'idem', trigger: 'api', idempotencyKey: 'key-2' })
    t.equal(keyForOtherFlow.outcome, 'conflict', 'a key reused for another flow is a conflict')

    const runs = await store.listRuns({ flow: 'idem', limit: 10 })
    t.equal(runs.runs.length, 1, 'existing and conflict outcomes create nothing')

    const plain1 = await store.createRun({ flow: 'idem', trigger: 'api' })
    const plain2 = await store.createRun({ flow: 'idem', trigger: 'api' })
    t.not(plain1.run.id, plain2.run.id, 'without a key every call creates a run')
  })

  t.test('a Pub/Sub job and its replay id are stored together; a repeat keeps one job', async (t) => {
    const store = await open(t)
    const stream = 'pubsub:events:/event/SDrive_Export__e'
    t.equal(await store.getCheckpoint(stream), null, 'no position before any job')
    const input = {
      flow: 'events',
      trigger: 'pubsub' as const,
      idempotencyKey: 'pubsub:events:uuid-1',
      requestHash: 'h1',
      checkpoint: { stream, position: '0000000000000001' },
    }
    const first = await store.createRun(input)
    t.equal(first.outcome, 'created')
    t.equal(first.run.trigger, 'pubsub')
    t.equal(await store.getCheckpoint(stream), '0000000000000001')
    const again = await store.createRun({ ...input, checkpoint: { stream, position: '0000000000000002' } })
    t.equal(again.outcome, 'existing', 'the same event id is the same job')
    t.equal(again.run.id, first.run.id)
    t.equal(await store.getCheckpoint(stream), '0000000000000002', 'the position moves on with it')
    await store.saveCheckpoint({ stream, position: '0000000000000003' })
    t.equal(await store.getCheckpoint(stream), '0000000000000003', 'skipped events move it too')
  })

  t.test('two writers creating a run with the same idempotency key get one run', async (t) => {
    const a = await open(t)
    const b = await open(t)
    const input = { flow: 'idem-race', trigger: 'api' as const, idempotencyKey: 'race', requestHash: 'h' }
    const results = await Promise.all([a.createRun(input), b.createRun(input)])
    t.same(results.map((r) => r.outcome).sort(), ['created', 'existing'])
    t.equal(results[0]?.run.id, results[1]?.run.id)
  })

  t.test('updateRun returns the fresh record', async (t) => {
    const store = await open(t)
    const run = await newRun(store, 'update-run')
    const started = await store.updateRun(run.id, { state: 'running', startedAt: '2024-05-01T10:00:00.000Z' })
    t.match(started, {
      id: run.id,
      state: 'running',
      startedAt: '2024-05-01T10:00:00.000Z',
      finishedAt: null,
    })
    const finished = await store.updateRun(run.id, {
      state: 'partially_failed',
      finishedAt: '2024-05-01T10:05:00.000Z',
      notes: [{ path: '/inbox/a.pdf', reason: 'NOT_READY', message: 'still growing' }],
      error: { code: 'NO_MATCHING_RECORD', message: '1 of 3 files had no record' },
    })
    t.same(finished.notes, [{ path: '/inbox/a.pdf', reason: 'NOT_READY', message: 'still growing' }])
    t.same(finished.error, { code: 'NO_MATCHING_RECORD', message: '1 of 3 files had no record' })
    t.equal(finished.startedAt, '2024-05-01T10:00:00.000Z', 'fields not in the patch are kept')
    t.same(await store.getRun(run.id), finished)
    const batch = {
      folder: '/inbox/catalogue',
      indexPath: '/inbox/catalogue/index.csv',
      indexFinalPath: null,
      rows: 3,
      notInIndex: ['stray.pdf'],
      missing: [{ file: 'gone.pdf', row: 2 }],
      resultPath: null,
      settled: false,
    }
    const batched = await store.updateRun(run.id, { batches: [batch] })
    t.same(batched.batches, [batch], 'batch summaries are kept with the run')
    t.same(batched.notes, finished.notes, 'notes are not touched by a batches patch')
    const settled = { ...batch, resultPath: '/done/catalogue/index.csv.result.csv', settled: true }
    t.same((await store.updateRun(run.id, { batches: [settled] })).batches, [settled])
    t.same((await store.getRun(run.id))?.batches, [settled])
    const cleared = await store.updateRun(run.id, { error: null })
    t.equal(cleared.error, null)
    t.same(await store.updateRun(run.id, {}), cleared, 'an empty patch changes nothing visible')
    await t.rejects(store.updateRun('run_missing', { state: 'failed' }), { code: 'NOT_FOUND' })
  })

  t.test('addItems inserts items with their defaults', async (t) => {
    const store = await open(t)
    const run = await newRun(store, 'add-items')
    const target = {
      object: 'Account',
      recordId: '001000000000001AAA',
      fileObject: 'cg__AccountFile__c',
      parentField: 'cg__Account__c',
      folder: 'Invoices',
      description: null,
    }
    const result = await store.addItems(run.id, [
      newItem('add-items/a.pdf', { target }),
      newItem('add-items/b.pdf', {
        state: 'failed',
        error: { code: 'NO_MATCHING_RECORD', message: 'no Account with AccountNumber 42' },
      }),
    ])
    t.equal(result.duplicates.length, 0)
    t.equal(result.added.length, 2)
    const [a, b] = result.added
    t.match(a, {
      runId: run.id,
      flow: 'add-items',
      endpoint: 'partner-sftp',
      path: '/inbox/a.pdf',
      name: 'a.pdf',
      size: 1024,
      modifiedAt: 1_700_000_000_000,
      ledgerKey: 'add-items/a.pdf',
      state: 'pending',
      attempts: 0,
      nextAttemptAt: null,
      wipFileId: null,
      sdriveFileId: null,
      sha256: null,
      bytesTransferred: 0,
      finalPath: null,
      error: null,
    })
    t.same(a?.target, target)
    t.match(a?.id, /^itm_[0-9a-z]+$/)
    t.match(b, { state: 'failed', error: { code: 'NO_MATCHING_RECORD' }, target: null })
    t.same(await store.getItem(a!.id), a)
    t.same(
      (await store.listItems(run.id)).map((i) => i.id),
      [a!.id, b!.id],
      'listItems returns items in insertion order',
    )
    t.equal(await store.getItem('itm_missing'), null)
    t.same(await store.listItems('run_missing'), [])
    t.same(await store.addItems(run.id, []), { added: [], duplicates: [] })
    await t.rejects(store.addItems('run_missing', [newItem('add-items/c.pdf')]), { code: 'NOT_FOUND' })
  })

  t.test('a ledger key is claimed once, across runs and within a batch', async (t) => {
    const store = await open(t)
    const run1 = await newRun(store, 'ledger')
    const run2 = await newRun(store, 'ledger')
    const first = await store.addItems(run1.id, [newItem('ledger/x.pdf'), newItem('ledger/y.pdf')])
    const owner = first.added[0]!
    await store.updateItem(owner.id, { state: 'transferring' })

    const second = await store.addItems(run2.id, [newItem('ledger/x.pdf'), newItem('ledger/z.pdf')])
    t.same(
      second.added.map((i) => i.ledgerKey),
      ['ledger/z.pdf'],
    )
    t.equal(second.duplicates.length, 1)
    t.same(second.duplicates[0], {
      item: newItem('ledger/x.pdf'),
      ownerItemId: owner.id,
      ownerState: 'transferring',
    })
    t.same(
      (await store.listItems(run2.id)).map((i) => i.ledgerKey),
      ['ledger/z.pdf'],
      'a duplicate is not inserted',
    )

    const owners = await store.ledgerOwners([
      'ledger/x.pdf',
      'ledger/z.pdf',
      'ledger/none.pdf',
      'ledger/x.pdf',
    ])
    t.same(
      [...owners.entries()].sort(),
      [
        ['ledger/x.pdf', { itemId: owner.id, state: 'transferring', recordId: null }],
        ['ledger/z.pdf', { itemId: second.added[0]!.id, state: 'pending', recordId: null }],
      ],
      'ledgerOwners reads claims without taking any',
    )
    t.equal((await store.ledgerOwners([])).size, 0)
    t.equal((await store.ledgerOwners(['ledger/none.pdf'])).size, 0, 'and does not claim the free key')

    const run3 = await newRun(store, 'ledger')
    const batch = await store.addItems(run3.id, [newItem('ledger/w.pdf'), newItem('ledger/w.pdf')])
    t.equal(batch.added.length, 1, 'the same key twice in one batch is added once')
    t.equal(batch.duplicates[0]?.ownerItemId, batch.added[0]?.id)
    t.equal(batch.duplicates[0]?.ownerState, 'pending')
  })

  t.test('two store instances racing for the same keys: exactly one wins each key', async (t) => {
    const a = await open(t)
    const b = await open(t)
    const runA = await newRun(a, 'race')
    const runB = await newRun(b, 'race')
    const keys = Array.from({ length: 25 }, (_, i) => `race/file-${String(i).padStart(2, '0')}.pdf`)
    const [resultA, resultB] = await Promise.all([
      a.addItems(
        runA.id,
        keys.map((k) => newItem(k)),
      ),
      b.addItems(
        runB.id,
        [...keys].reverse().map((k) => newItem(k)),
      ),
    ])
    const winners = new Map<string, string>()
    for (const item of [...resultA.added, ...resultB.added]) {
      t.notOk(winners.has(item.ledgerKey), `${item.ledgerKey} added once`)
      winners.set(item.ledgerKey, item.id)
    }
    t.equal(winners.size, keys.length, 'every key has a winner')
    t.equal(resultA.duplicates.length + resultB.duplicates.length, keys.length, 'and exactly one loser')
    for (const duplicate of [...resultA.duplicates, ...resultB.duplicates]) {
      t.equal(duplicate.ownerItemId, winners.get(duplicate.item.ledgerKey))
    }
    const stored = [...(await a.listItems(runA.id)), ...(await a.listItems(runB.id))]
    t.equal(stored.length, keys.length, 'the database holds one item per key')
  })

  t.test('updateItem returns the fresh record', async (t) => {
    const store = await open(t)
    const run = await newRun(store, 'update-item')
    const { added } = await store.addItems(run.id, [newItem('update-item/a.pdf')])
    const item = added[0]!
    const target = {
      object: 'Opportunity',
      recordId: '006000000000001AAA',
      fileObject: 'cg__OpportunityFile__c',
      parentField: 'cg__Opportunity__c',
      folder: null,
      description: 'From partner',
      replaceIds: ['a0B000000000007', 'a0B000000000008'],
      alreadyInSDrive: false,
    }
    const updated = await store.updateItem(item.id, {
      state: 'transferring',
      attempts: 1,
      nextAttemptAt: '2024-05-01T10:00:30.000Z',
      target,
      wipFileId: 'a0B000000000001',
      bytesTransferred: 512,
    })
    t.match(updated, {
      id: item.id,
      state: 'transferring',
      attempts: 1,
      nextAttemptAt: '2024-05-01T10:00:30.000Z',
      wipFileId: 'a0B000000000001',
      bytesTransferred: 512,
      createdAt: item.createdAt,
    })
    t.same(updated.target, target)
    t.ok(updated.updatedAt >= item.updatedAt, 'updatedAt moves forward')
    const done = await store.updateItem(item.id, {
      state: 'done',
      sdriveFileId: 'a0B000000000002',
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      bytesTransferred: 1024,
      finalPath: '/processed/a.pdf',
      nextAttemptAt: null,
    })
    t.match(done, {
      state: 'done',
      nextAttemptAt: null,
      finalPath: '/processed/a.pdf',
      wipFileId: 'a0B000000000001',
    })
    t.same(await store.getItem(item.id), done)
    const failed = await store.updateItem(item.id, {
      state: 'failed',
      error: { code: 'TIMEOUT', message: 'slow' },
    })
    t.same(failed.error, { code: 'TIMEOUT', message: 'slow' })
    t.equal((await store.updateItem(item.id, { error: null })).error, null)
    await t.rejects(store.updateItem('itm_missing', { state: 'done' }), { code: 'NOT_FOUND' })
  })

  t.test('releaseLedger frees only the claim of that item', async (t) => {
    const store = await open(t)
    const run1 = await newRun(store, 'release')
    const failed = (await store.addItems(run1.id, [newItem('release/a.pdf')])).added[0]!
    await store.updateItem(failed.id, { state: 'failed', error: { code: 'REMOTE_IO', message: 'reset' } })

    const run2 = await newRun(store, 'release')
    t.equal((await store.addItems(run2.id, [newItem('release/a.pdf')])).duplicates.length, 1, 'still claimed')

    await store.releaseLedger(failed.id)
    const retaken = await store.addItems(run2.id, [newItem('release/a.pdf')])
    t.equal(retaken.added.length, 1, 'a released key can be taken again')
    const newOwner = retaken.added[0]!

    await store.releaseLedger(failed.id)
    const run3 = await newRun(store, 'release')
    const third = await store.addItems(run3.id, [newItem('release/a.pdf')])
    t.equal(
      third.duplicates[0]?.ownerItemId,
      newOwner.id,
      "releasing the old item leaves the new owner's claim",
    )

    await store.releaseLedger('itm_missing')
    t.equal((await store.getItem(failed.id))?.state, 'failed', 'the item itself is kept')
  })

  t.test('runCounts and activeItemCount', async (t) => {
    const store = await open(t)
    const before = await store.activeItemCount()
    const run = await newRun(store, 'counts')
    const states: ItemState[] = [
      'pending',
      'pending',
      'transferring',
      'finalizing',
      'done',
      'done',
      'failed',
      'skipped',
    ]
    const { added } = await store.addItems(
      run.id,
      states.map((_, i) => newItem(`counts/${i}.pdf`)),
    )
    t.equal(await store.activeItemCount(), before + states.length, 'new items are pending, so active')
    for (const [i, state] of states.entries()) {
      await store.updateItem(added[i]!.id, {
        state,
        bytesTransferred: 100 * (i + 1),
        bytesMoved: 150 * (i + 1),
        resumes: i % 3,
      })
    }
    const moved = await store.getItem(added[7]!.id)
    t.match(moved, { bytesMoved: 1200, resumes: 1 }, 'an item keeps its bytes moved and resumes')
    t.same(await store.runCounts(run.id), {
      total: 8,
      pending: 2,
      transferring: 1,
      finalizing: 1,
      done: 2,
      failed: 1,
      skipped: 1,
      bytesDone: 100 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8),
    })
    t.equal(await store.activeItemCount(), before + 4, 'pending + transferring + finalizing')
    const empty = await newRun(store, 'counts')
    t.same(await store.runCounts(empty.id), {
      total: 0,
      pending: 0,
      transferring: 0,
      finalizing: 0,
      done: 0,
      failed: 0,
      skipped: 0,
      bytesDone: 0,
    })
    await t.rejects(store.runCounts('run_missing'), { code: 'NOT_FOUND' })
  })

  t.test('listRuns pages newest first with an opaque cursor', async (t) => {
    const store = await open(t)
    const created: RunRecord[] = []
    for (let i = 0; i < 120; i++) {
      const run = await newRun(store, i % 2 === 0 ? 'paging-even' : 'paging-odd')
      created.push(i % 3 === 0 ? await store.updateRun(run.id, { state: 'failed' }) : run)
    }
    const newestFirst = [...created].reverse()

    async function collect(query: { flow?: string; state?: 'failed' | 'queued' }, limit: number) {
      const ids: string[] = []
      let cursor: string | undefined
      let pages = 0
      for (;;) {
        const page = await store.listRuns({ ...query, limit, ...(cursor ? { cursor } : {}) })
        pages++
        t.ok(page.runs.length <= limit)
        ids.push(...page.runs.map((r) => r.id))
        if (page.nextCursor === null) break
        cursor = page.nextCursor
        if (pages > 200) throw new Error('paging does not end')
      }
      return { ids, pages }
    }

    const even = await collect({ flow: 'paging-even' }, 7)
    t.same(
      even.ids,
      newestFirst.filter((r) => r.flow === 'paging-even').map((r) => r.id),
    )
    t.equal(even.pages, Math.ceil(60 / 7))

    const exact = await collect({ flow: 'paging-odd' }, 20)
    t.equal(exact.pages, 3, 'a last page that is exactly full has no next cursor')
    t.equal(exact.ids.length, 60)

    const failedEven = await collect({ flow: 'paging-even', state: 'failed' }, 6)
    t.same(
      failedEven.ids,
      newestFirst.filter((r) => r.flow === 'paging-even' && r.state === 'failed').map((r) => r.id),
    )
    t.equal(failedEven.ids.length, 20)

    const queued = await collect({ state: 'queued' }, 50)
    const ours = new Set(created.filter((r) => r.state === 'queued').map((r) => r.id))
    t.same(
      queued.ids.filter((id) => ours.has(id)),
      newestFirst.filter((r) => ours.has(r.id)).map((r) => r.id),
      'the state filter alone, across flows',
    )

    const all = await collect({}, 33)
    t.same(
      all.ids.filter((id) => created.some((r) => r.id === id)),
      newestFirst.map((r) => r.id),
      'no filter: every run once, newest first',
    )
    t.equal(new Set(all.ids).size, all.ids.length, 'no run appears twice')

    const first = await store.listRuns({ flow: 'paging-odd', limit: 10 })
    await newRun(store, 'paging-odd')
    const second = await store.listRuns({ flow: 'paging-odd', limit: 10, cursor: first.nextCursor! })
    t.same(
      second.runs.map((r) => r.id),
      newestFirst
        .filter((r) => r.flow === 'paging-odd')
        .slice(10, 20)
        .map((r) => r.id),
      'a run created between pages does not shift the next page',
    )

    t.same(await store.listRuns({ flow: 'paging-none', limit: 5 }), { runs: [], nextCursor: null })
    await t.rejects(store.listRuns({ limit: 5, cursor: 'not a cursor' }), { code: 'VALIDATION_FAILED' })
  })

  t.test('findRuns and findItems select by state across runs', async (t) => {
    const store = await open(t)
    const queued = await newRun(store, 'find')
    const running = await store.updateRun((await newRun(store, 'find')).id, { state: 'running' })
    const done = await store.updateRun((await newRun(store, 'find')).id, { state: 'succeeded' })

    const mine = (runs: RunRecord[]) => runs.filter((r) => r.flow === 'find').map((r) => r.id)
    t.same(mine(await store.findRuns(['queued', 'running'])), [queued.id, running.id], 'oldest first')
    t.same(mine(await store.findRuns(['succeeded'])), [done.id])
    t.same(await store.findRuns([]), [])
    t.equal(await store.countRuns(['queued', 'running'], ['find']), 2, 'countRuns counts by state and flow')
    t.equal(await store.countRuns(['queued', 'running', 'succeeded'], ['find', 'elsewhere']), 3)
    t.equal(await store.countRuns(['queued'], ['elsewhere']), 0, 'another flow counts nothing')
    t.equal(await store.countRuns([], ['find']), 0)
    t.equal(await store.countRuns(['queued'], []), 0)

    const a = (await store.addItems(queued.id, [newItem('find/a.pdf'), newItem('find/b.pdf')])).added
    const b = (await store.addItems(running.id, [newItem('find/c.pdf')])).added
    await store.updateItem(a[1]!.id, { state: 'transferring' })
    await store.updateItem(b[0]!.id, { state: 'finalizing' })
    const ourItems = new Set([...a, ...b].map((i) => i.id))
    const found = (await store.findItems(['transferring', 'finalizing'])).filter((i) => ourItems.has(i.id))
    t.same(
      found.map((i) => [i.ledgerKey, i.state]),
      [
        ['find/b.pdf', 'transferring'],
        ['find/c.pdf', 'finalizing'],
      ],
    )
    t.same(
      (await store.findItems(['pending'])).filter((i) => ourItems.has(i.id)).map((i) => i.ledgerKey),
      ['find/a.pdf'],
    )
    t.same(await store.findItems([]), [])
  })

  t.test('an export job waits for its window and keeps its request', async (t) => {
    const store = await open(t)
    const request = {
      recordIds: ['001000000000001AAA', '001000000000002AAA'],
      fileIds: ['a0B000000000001'],
      metadata: { reason: 'month end', nested: { count: 2, final: true, none: null }, tags: ['a', 'b'] },
    }
    const input = {
      flow: 'export-job',
      trigger: 'outbound-message' as const,
      state: 'waiting_for_window' as const,
      notBefore: '2024-06-01T22:00:00.000Z',
      request,
      idempotencyKey: 'export-1',
      requestHash: 'hash-export-1',
    }
    const created = await store.createRun(input)
    t.equal(created.outcome, 'created')
    t.match(created.run, {
      flow: 'export-job',
      state: 'waiting_for_window',
      trigger: 'outbound-message',
      idempotencyKey: 'export-1',
      notBefore: '2024-06-01T22:00:00.000Z',
      startedAt: null,
      finishedAt: null,
      notes: [],
      error: null,
    })
    t.same(created.run.request, request, 'the request comes back as it was given')
    t.same(await store.getRun(created.run.id), created.run, 'and reads back equal')

    const again = await store.createRun(input)
    t.equal(again.outcome, 'existing', 'same key and same request hash → the existing job')
    t.same(again.run, created.run)
    const conflict = await store.createRun({ ...input, requestHash: 'hash-export-2' })
    t.equal(conflict.outcome, 'conflict', 'same key, another request → conflict')
    t.equal(conflict.run.id, created.run.id)
    t.equal((await store.listRuns({ flow: 'export-job', limit: 10 })).runs.length, 1, 'nothing else created')

    const queued = await store.createRun({
      flow: 'export-job',
      trigger: 'outbound-message',
      state: 'queued',
      request: { recordIds: [] },
    })
    t.match(queued.run, { state: 'queued', notBefore: null })
    t.same(queued.run.request, { recordIds: [] })
    const plain = await store.createRun({ flow: 'export-job', trigger: 'api' })
    t.match(plain.run, { state: 'queued', request: null, notBefore: null }, 'defaults')

    const other = await open(t)
    t.same(await other.getRun(created.run.id), created.run, 'another instance reads the same job')
  })

  t.test('updateRun sets notBefore and moves a waiting job on', async (t) => {
    const store = await open(t)
    const { run } = await store.createRun({
      flow: 'export-update',
      trigger: 'outbound-message',
      state: 'waiting_for_window',
      notBefore: '2024-06-01T22:00:00.000Z',
      request: { fileIds: ['a0B000000000003'] },
    })
    const postponed = await store.updateRun(run.id, { notBefore: '2024-06-02T22:00:00.000Z' })
    t.same(postponed, { ...run, notBefore: '2024-06-02T22:00:00.000Z' }, 'only notBefore changes')
    const released = await store.updateRun(run.id, { state: 'queued', notBefore: null })
    t.same(released, { ...run, state: 'queued', notBefore: null }, 'notBefore can be cleared')
    t.same(await store.getRun(run.id), released)
    const started = await store.updateRun(run.id, { state: 'running', startedAt: '2024-06-02T22:00:05.000Z' })
    t.same(started.request, { fileIds: ['a0B000000000003'] }, 'the request is kept through updates')
    const held = await store.updateRun(run.id, {
      state: 'waiting_for_window',
      notBefore: '2024-06-03T22:00:00.000Z',
    })
    t.match(held, { state: 'waiting_for_window', notBefore: '2024-06-03T22:00:00.000Z' })
    t.same(await store.updateRun(run.id, {}), held, 'an empty patch changes nothing visible')
    await t.rejects(store.updateRun('run_missing', { notBefore: '2024-06-03T22:00:00.000Z' }), {
      code: 'NOT_FOUND',
    })
  })

  t.test('findRuns finds waiting jobs, oldest first', async (t) => {
    const store = await open(t)
    const wait = async (notBefore: string) =>
      (
        await store.createRun({
          flow: 'find-waiting',
          trigger: 'outbound-message',
          state: 'waiting_for_window',
          notBefore,
          request: { notBefore },
        })
      ).run
    // Ordered by creation, not by notBefore: the later-created job may be due first.
    const first = await wait('2024-06-02T22:00:00.000Z')
    const queued = await newRun(store, 'find-waiting')
    const second = await wait('2024-06-01T22:00:00.000Z')
    const mine = (runs: RunRecord[]) => runs.filter((r) => r.flow === 'find-waiting')
    const waiting = mine(await store.findRuns(['waiting_for_window']))
    t.same(
      waiting.map((r) => r.id),
      [first.id, second.id],
    )
    t.same(waiting, [first, second], 'whole records, request and notBefore included')
    t.same(
      mine(await store.findRuns(['waiting_for_window', 'queued'])).map((r) => r.id),
      [first.id, queued.id, second.id],
    )
    await store.updateRun(first.id, { state: 'queued', notBefore: null })
    t.same(
      mine(await store.findRuns(['waiting_for_window'])).map((r) => r.id),
      [second.id],
      'a released job is no longer waiting',
    )
    t.same(
      mine(await store.findRuns(['queued'])).map((r) => r.id),
      [first.id, queued.id],
    )
  })

  t.test('listRuns filters by a list of flows', async (t) => {
    const store = await open(t)
    const flows = ['flows-a', 'flows-b', 'flows-c']
    const created: RunRecord[] = []
    for (let i = 0; i < 30; i++) {
      const flow = flows[i % 3]!
      const state: 'waiting_for_window' | 'queued' = i % 4 === 0 ? 'waiting_for_window' : 'queued'
      const { run } = await store.createRun({
        flow,
        trigger: 'outbound-message',
        state,
        ...(state === 'waiting_for_window' ? { notBefore: '2024-06-01T22:00:00.000Z' } : {}),
      })
      created.push(i % 5 === 0 ? await store.updateRun(run.id, { state: 'failed' }) : run)
    }
    const newestFirst = [...created].reverse()

    async function collect(query: { flows: string[]; flow?: string; state?: RunState }, limit: number) {
      const ids: string[] = []
      let cursor: string | undefined
      for (let pages = 0; ; pages++) {
        if (pages > 100) throw new Error('paging does not end')
        const page = await store.listRuns({ ...query, limit, ...(cursor ? { cursor } : {}) })
        t.ok(page.runs.length <= limit)
        ids.push(...page.runs.map((r) => r.id))
        if (page.nextCursor === null) return ids
        cursor = page.nextCursor
      }
    }
    const expect = (keep: (r: RunRecord) => boolean) => newestFirst.filter(keep).map((r) => r.id)

    t.same(
      await collect({ flows: ['flows-a', 'flows-b'] }, 4),
      expect((r) => r.flow === 'flows-a' || r.flow === 'flows-b'),
      'runs of any of the flows, newest first, across pages',
    )
    t.same(
      await collect({ flows: ['flows-c', 'flows-a', 'flows-a'] }, 7),
      expect((r) => r.flow === 'flows-a' || r.flow === 'flows-c'),
      'order and repeats in the list do not matter',
    )
    t.same(
      await collect({ flows: ['flows-a', 'flows-b'], state: 'waiting_for_window' }, 3),
      expect((r) => (r.flow === 'flows-a' || r.flow === 'flows-b') && r.state === 'waiting_for_window'),
      'with state: both hold',
    )
    t.ok(
      created.some((r) => r.state === 'waiting_for_window' && r.flow !== 'flows-c'),
      'the state case has runs to find',
    )
    t.same(
      await collect({ flows: ['flows-a', 'flows-b'], flow: 'flows-b' }, 5),
      expect((r) => r.flow === 'flows-b'),
      'with flow: both hold',
    )
    t.same(
      await collect({ flows: ['flows-a', 'flows-b'], flow: 'flows-b', state: 'failed' }, 5),
      expect((r) => r.flow === 'flows-b' && r.state === 'failed'),
      'with flow and state: all three hold',
    )
    t.same(await store.listRuns({ flows: ['flows-a'], flow: 'flows-b', limit: 5 }), {
      runs: [],
      nextCursor: null,
    })
    t.same(await store.listRuns({ flows: [], limit: 5 }), { runs: [], nextCursor: null }, 'no flows: no run')
    t.same(await store.listRuns({ flows: [], flow: 'flows-a', limit: 5 }), { runs: [], nextCursor: null })
    t.same(await store.listRuns({ flows: ['flows-none'], limit: 5 }), { runs: [], nextCursor: null })
    await t.rejects(store.listRuns({ flows: ['flows-a'], limit: 5, cursor: 'not a cursor' }), {
      code: 'VALIDATION_FAILED',
    })
  })

  t.test('listFileOutcomes pages outcomes oldest change first with an opaque cursor', async (t) => {
    const store = await open(t)
    const since = new Date().toISOString()
    const run = await newRun(store, 'audit')
    const { added } = await store.addItems(
      run.id,
      ['a', 'b', 'c', 'd', 'e'].map((n) => newItem(`audit/${n}`)),
    )
    const [a, b, c, d, e] = added as [ItemRecord, ItemRecord, ItemRecord, ItemRecord, ItemRecord]
    await store.updateItem(d.id, { state: 'transferring' })
    const outcomes = [
      await store.updateItem(c.id, { state: 'done', sha256: 'f'.repeat(64), bytesTransferred: 10 }),
      await store.updateItem(a.id, { state: 'skipped' }),
      await store.updateItem(e.id, { state: 'failed', error: { code: 'REMOTE_IO', message: 'gone' } }),
    ]
    const expected = [...outcomes]
      .sort((x, y) =>
        x.updatedAt === y.updatedAt ? (x.id < y.id ? -1 : 1) : x.updatedAt < y.updatedAt ? -1 : 1,
      )
      .map((i) => i.id)

    const walked: ItemRecord[] = []
    let cursor: string | undefined
    for (let pages = 0; ; pages++) {
      if (pages > 100) throw new Error('paging does not end')
      const page = await store.listFileOutcomes({ since, limit: 1, ...(cursor ? { cursor } : {}) })
      t.ok(page.items.length <= 1)
      walked.push(...page.items)
      if (page.nextCursor === null) break
      cursor = page.nextCursor
    }
    const ours = walked.filter((i) => i.runId === run.id)
    t.same(
      ours.map((i) => i.id),
      expected,
      'done, skipped and failed, by last change then id; pending and transferring are not outcomes',
    )
    t.notOk(
      walked.some((i) => i.id === b.id || i.id === d.id),
      'an item still moving is not listed',
    )
    t.same(ours.find((i) => i.id === c.id)?.sha256, 'f'.repeat(64), 'items come back whole')

    const all = await store.listFileOutcomes({ since, limit: 1000 })
    t.same(
      all.items.filter((i) => i.runId === run.id).map((i) => i.id),
      expected,
      'one page holds the same',
    )
    t.equal(all.nextCursor, null)
    const later = new Date(Date.parse(outcomes[2]!.updatedAt) + 60_000).toISOString()
    t.same(await store.listFileOutcomes({ since: later, limit: 5 }), { items: [], nextCursor: null })

    await t.rejects(store.listFileOutcomes({ limit: 5, cursor: 'not a cursor' }), {
      code: 'VALIDATION_FAILED',
    })
    const badDate = Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url')
    await t.rejects(store.listFileOutcomes({ limit: 5, cursor: badDate }), { code: 'VALIDATION_FAILED' })
    await t.rejects(store.listFileOutcomes({ limit: 5, since: 'not a date' }), { code: 'VALIDATION_FAILED' })
    await t.rejects(store.listFileOutcomes({ limit: 0 }), { code: 'VALIDATION_FAILED' })
  })

  t.test('a database made by the previous migrations migrates forward with its data', async (t) => {
    const previous = await previousSchema(t)
    const old = previous.store
    const runs = [
      {
        id: 'run_00000000000000000000000000000001',
        flow: 'legacy',
        state: 'running',
        trigger: 'retry',
        idempotencyKey: 'legacy-key',
        createdAt: '2024-05-01T10:00:00.000Z',
        startedAt: '2024-05-01T10:00:01.000Z',
        finishedAt: null,
        notes: [{ path: '/inbox/late.pdf', reason: 'NOT_READY', message: 'still growing' }],
        error: { code: 'REMOTE_IO', message: 'connection reset' },
      },
      {
        id: 'run_00000000000000000000000000000002',
        flow: 'legacy-other',
        state: 'succeeded',
        trigger: 'schedule',
        idempotencyKey: null,
        createdAt: '2024-05-01T11:00:00.000Z',
        startedAt: '2024-05-01T11:00:01.000Z',
        finishedAt: '2024-05-01T11:00:09.000Z',
        notes: [],
        error: null,
      },
    ] as const
    for (const run of runs) {
      await previous.exec(
        `INSERT INTO runs (id, flow, state, trigger, idempotency_key, created_at, updated_at, started_at,
           finished_at, notes, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          run.id,
          run.flow,
          run.state,
          run.trigger,
          run.idempotencyKey,
          run.createdAt,
          run.createdAt,
          run.startedAt,
          run.finishedAt,
          JSON.stringify(run.notes),
          run.error === null ? null : JSON.stringify(run.error),
        ],
      )
    }
    await previous.exec(
      'INSERT INTO idempotency (key, run_id, request_hash, created_at) VALUES (?, ?, ?, ?)',
      ['legacy-key', runs[0].id, 'legacy-hash', runs[0].createdAt],
    )
    const added = (
      await old.addItems(runs[0].id, [
        newItem('legacy/a.pdf'),
        newItem('legacy/b.pdf'),
        newItem('legacy/c.pdf'),
      ])
    ).added
    await old.updateItem(added[0]!.id, {
      state: 'done',
      sdriveFileId: 'a0B000000000010',
      bytesTransferred: 1024,
    })
    await old.updateItem(added[1]!.id, { state: 'transferring', nextAttemptAt: '2024-05-01T10:01:00.000Z' })
    const itemsBefore = await old.listItems(runs[0].id)
    const countsBefore = await old.runCounts(runs[0].id)
    await old.close()

    const store = previous.reopen()
    t.teardown(() => store.close())
    await store.migrate()
    await store.migrate()
    for (const run of runs) {
      t.same(
        await store.getRun(run.id),
        { ...run, request: null, notBefore: null, batches: [] },
        `${run.id} kept as it was`,
      )
    }
    t.same(await store.listItems(runs[0].id), itemsBefore, 'items kept')
    t.same(await store.runCounts(runs[0].id), countsBefore)
    t.same(
      (await store.findRuns(['running'])).map((r) => r.id),
      [runs[0].id],
    )
    t.same(
      (await store.listRuns({ flows: ['legacy', 'legacy-other'], limit: 10 })).runs.map((r) => r.id),
      [runs[1].id, runs[0].id],
    )
    const again = await store.createRun({
      flow: 'legacy',
      trigger: 'retry',
      idempotencyKey: 'legacy-key',
      requestHash: 'legacy-hash',
    })
    t.same([again.outcome, again.run.id], ['existing', runs[0].id], 'idempotency keys kept')
    const { run: next } = await store.createRun({ flow: 'legacy', trigger: 'api' })
    const duplicate = await store.addItems(next.id, [newItem('legacy/a.pdf')])
    t.same(
      duplicate.duplicates.map((d) => [d.ownerItemId, d.ownerState]),
      [[added[0]!.id, 'done']],
      'ledger claims kept',
    )
    const held = await store.updateRun(runs[0].id, {
      state: 'waiting_for_window',
      notBefore: '2024-06-01T22:00:00.000Z',
    })
    t.match(held, {
      state: 'waiting_for_window',
      notBefore: '2024-06-01T22:00:00.000Z',
      startedAt: runs[0].startedAt,
    })
    const job = await store.createRun({
      flow: 'legacy',
      trigger: 'outbound-message',
      state: 'waiting_for_window',
      notBefore: '2024-06-01T22:00:00.000Z',
      request: { recordIds: ['001000000000001AAA'] },
    })
    t.same(await store.getRun(job.run.id), job.run, 'an old database takes export jobs')
    t.same(
      (await store.findRuns(['waiting_for_window'])).map((r) => r.id),
      [runs[0].id, job.run.id],
    )
  })

  t.test('data survives closing and reopening', async (t) => {
    const first = await open(t)
    const { run } = await first.createRun({
      flow: 'reopen',
      trigger: 'startup',
      idempotencyKey: 'reopen-key',
    })
    const item = (await first.addItems(run.id, [newItem('reopen/a.pdf')])).added[0]!
    const updated = await first.updateItem(item.id, { state: 'done', sdriveFileId: 'a0B000000000009' })
    await first.close()
    await first.close()
    await t.rejects(first.ping(), 'a closed store refuses calls')

    const second = await open(t)
    t.same(await second.getRun(run.id), run)
    t.same(await second.getItem(item.id), updated)
    const again = await second.createRun({ flow: 'reopen', trigger: 'startup', idempotencyKey: 'reopen-key' })
    t.equal(again.outcome, 'existing', 'idempotency keys persist')
    const other = await newRun(second, 'reopen')
    const duplicate = await second.addItems(other.id, [newItem('reopen/a.pdf')])
    t.same(
      duplicate.duplicates.map((d) => [d.ownerItemId, d.ownerState]),
      [[item.id, 'done']],
      'ledger claims persist',
    )
  })

  t.test('an item keeps what a status file did (detail)', async (t) => {
    const store = await open(t)
    const run = await newRun(store, 'detail')
    const item = (await store.addItems(run.id, [newItem('detail/status.csv')])).added[0]!
    t.equal(item.detail, null, 'no detail until one is written')
    const detail = { rowsTotal: 3, rowsApplied: 2, rejected: [{ index: 2, code: 'FIELD_NOT_ALLOWED' }] }
    const updated = await store.updateItem(item.id, { detail })
    t.same(updated.detail, detail)
    t.same((await store.getItem(item.id))?.detail, detail)
  })

  t.test('reviews: one per flow and file, found by state and name, patched in place', async (t) => {
    const store = await open(t)
    const input = {
      correlationId: 'rv-contract01',
      flow: 'review-flow',
      fileId: 'a0B000000000101AAA',
      fileObject: 'cg__CaseFile__c',
      parentField: 'cg__Case__c',
      recordId: '500000000000001AAA',
      object: 'Case',
      originalName: 'claim photo.jpg',
      returnedName: 'claim photo__rv-contract01.jpg',
      reasonCode: 'BLURRY',
      reason: 'The photo is out of focus',
      notify: null,
      previousCorrelationId: null,
    }
    const first = await store.createReview(input)
    t.equal(first.outcome, 'created')
    t.match(first.review, {
      ...input,
      state: 'rejecting',
      returnedPath: null,
      resubmissions: [],
      attempts: 0,
      error: null,
    })
    const again = await store.createReview({ ...input, correlationId: 'rv-contract02', reason: 'other' })
    t.equal(again.outcome, 'existing', 'the same file of the same flow is rejected once')
    t.equal(again.review.correlationId, 'rv-contract01')
    const otherFlow = await store.createReview({
      ...input,
      flow: 'other-review-flow',
      correlationId: 'rv-contract03',
    })
    t.equal(otherFlow.outcome, 'created', 'another flow may reject the same file')

    const rejected = await store.updateReview('rv-contract01', {
      state: 'rejected',
      returnedPath: '/rejected/claim photo__rv-contract01.jpg',
      attempts: 1,
    })
    t.match(rejected, {
      state: 'rejected',
      returnedPath: '/rejected/claim photo__rv-contract01.jpg',
      reason: input.reason,
    })
    const resubmissions = [
      {
        runId: 'run_1',
        itemId: 'itm_1',
        fileName: 'claim photo.jpg',
        fileId: 'a0B000000000102AAA',
        at: '2026-11-25T10:00:00.000Z',
      },
    ]
    const resubmitted = await store.updateReview('rv-contract01', {
      state: 'resubmitted',
      resubmissions,
      error: null,
    })
    t.same(resubmitted.resubmissions, resubmissions)
    t.equal(resubmitted.attempts, 1, 'fields not in the patch stay')
    t.same(await store.getReview('rv-contract01'), resubmitted)
    t.equal(await store.getReview('rv-missing000'), null)

    t.same(
      (await store.findReviews({ flow: 'review-flow', states: ['resubmitted'] })).map((r) => r.correlationId),
      ['rv-contract01'],
    )
    t.same(await store.findReviews({ flow: 'review-flow', states: ['rejected'] }), [])
    t.same(
      (await store.findReviews({ flow: 'review-flow', names: ['claim photo__rv-contract01.jpg'] })).map(
        (r) => r.correlationId,
      ),
      ['rv-contract01'],
      'by returned name',
    )
    t.same(
      (await store.findReviews({ flow: 'review-flow', names: ['claim photo.jpg'] })).map(
        (r) => r.correlationId,
      ),
      ['rv-contract01'],
      'by original name',
    )
    t.same(
      (await store.findReviews({ fileId: input.fileId })).map((r) => r.correlationId),
      ['rv-contract01', 'rv-contract03'],
    )
    t.same(await store.findReviews({ names: [] }), [])
    await t.rejects(store.updateReview('rv-missing000', { state: 'failed' }), { code: 'NOT_FOUND' })
  })

  /** Long before any run these cases create on the real clock: only runs given this finish time are old. */
  const longAgo = '2001-01-01T00:00:00.000Z'
  const cutoff = '2002-01-01T00:00:00.000Z'

  async function finishedRun(store: Store, flow: string, state: RunState, finishedAt: string | null) {
    const run = await newRun(store, flow)
    return store.updateRun(run.id, { state, finishedAt })
  }

  async function pruneAll(store: Store, query: Parameters<Store['pruneRuns']>[0]) {
    const total = { runs: 0, items: 0, idempotencyKeys: 0, batches: 0 }
    for (;;) {
      const pruned = await store.pruneRuns(query)
      if (pruned.runs === 0) return total
      total.runs += pruned.runs
      total.items += pruned.items
      total.idempotencyKeys += pruned.idempotencyKeys
      total.batches += 1
    }
  }

  t.test(
    'uploadDigests: the SHA-256 of files the bridge uploaded, from items and after pruning',
    async (t) => {
      const store = await open(t)
      const flow = 'digests'
      const run = await newRun(store, flow)
      const { added } = await store.addItems(run.id, [
        newItem('digests/uploaded.pdf'),
        newItem('digests/unfinished.pdf'),
        newItem('digests/skipped.pdf'),
        newItem('digests/pruned.pdf'),
      ])
      const [uploaded, unfinished, skipped, pruned] = added
      const sha = (c: string) => c.repeat(64)
      await store.updateItem(uploaded!.id, {
        state: 'done',
        sdriveFileId: 'a0X000000000001AAA',
        sha256: sha('a'),
      })
      // Disposal failed, but the file is in S-Drive with its digest: it counts.
      await store.updateItem(unfinished!.id, {
        state: 'failed',
        sdriveFileId: 'a0X000000000002AAA',
        sha256: sha('b'),
      })
      // A skipped file points at a file that was there before: its digest is not that file's.
      await store.updateItem(skipped!.id, {
        state: 'skipped',
        sdriveFileId: 'a0X000000000003AAA',
        sha256: sha('c'),
      })
      await store.updateItem(pruned!.id, {
        state: 'done',
        sdriveFileId: 'a0X000000000004AAA',
        sha256: sha('d'),
      })
      const ids = [
        'a0X000000000001AAA',
        'a0X000000000002AAA',
        'a0X000000000003AAA',
        'a0X000000000004AAA',
        'a0Xnone',
      ]
      t.same(
        Object.fromEntries(await store.uploadDigests(ids)),
        {
          a0X000000000001AAA: sha('a'),
          a0X000000000002AAA: sha('b'),
          a0X000000000004AAA: sha('d'),
        },
        'uploaded files are known, a skipped one and an unknown id are not',
      )
      t.equal((await store.uploadDigests([])).size, 0)

      await store.updateRun(run.id, { state: 'partially_failed', finishedAt: longAgo })
      await pruneAll(store, {
        finishedBefore: cutoff,
        keysCreatedBefore: cutoff,
        flows: { only: [flow] },
        limit: 10,
      })
      t.equal(await store.getItem(pruned!.id), null, 'the items are gone')
      t.same(
        Object.fromEntries(await store.uploadDigests(ids)),
        {
          a0X000000000001AAA: sha('a'),
          a0X000000000002AAA: sha('b'),
          a0X000000000004AAA: sha('d'),
        },
        'the ledger keeps the digests of pruned uploads',
      )
    },
  )

  t.test(
    'pruneRuns removes old terminal runs with their items; the ledger still knows their files',
    async (t) => {
      const store = await open(t)
      const flow = 'prune-runs'
      const old = await finishedRun(store, flow, 'succeeded', null)
      const target = {
        object: 'Account',
        recordId: '001000000000001AAA',
        fileObject: 'cg__AccountFile__c',
        parentField: 'cg__Account__c',
        folder: null,
        description: null,
      }
      const { added } = await store.addItems(old.id, [
        newItem('prune/done.pdf', { target }),
        newItem('prune/failed.pdf'),
        newItem('prune/stale.pdf'),
      ])
      const [done, failed, stale] = added
      await store.updateItem(done!.id, { state: 'done' })
      await store.updateItem(failed!.id, { state: 'failed' })
      await store.updateRun(old.id, { finishedAt: longAgo })
      const oldToo = await finishedRun(store, flow, 'cancelled', longAgo)
      const failedRun = await finishedRun(store, flow, 'partially_failed', longAgo)
      // Not terminal, although given an old finish time: never pruned.
      const running = await finishedRun(store, flow, 'running', longAgo)
      const queued = await finishedRun(store, flow, 'queued', longAgo)
      const waiting = await finishedRun(store, flow, 'waiting_for_window', longAgo)
      const { added: runningItems } = await store.addItems(running.id, [newItem('prune/running.pdf')])
      // Terminal but recent.
      const recent = await finishedRun(store, flow, 'succeeded', new Date().toISOString())
      // Terminal and old, but of another flow.
      const otherFlow = await finishedRun(store, 'prune-runs-other', 'succeeded', longAgo)

      const pruned = await pruneAll(store, {
        finishedBefore: cutoff,
        keysCreatedBefore: cutoff,
        flows: { only: [flow] },
        limit: 1,
      })
      t.same(pruned, { runs: 3, items: 3, idempotencyKeys: 0, batches: 3 }, 'one run per batch of limit 1')
      for (const gone of [old, oldToo, failedRun]) t.equal(await store.getRun(gone.id), null)
      t.same(await store.listItems(old.id), [])
      t.equal(await store.getItem(done!.id), null)
      for (const kept of [running, queued, waiting, recent, otherFlow]) {
        t.equal((await store.getRun(kept.id))?.state, kept.state, `${kept.state} run of ${kept.flow} kept`)
      }
      t.equal((await store.getItem(runningItems[0]!.id))?.state, 'pending', 'a running run keeps its items')

      const owners = await store.ledgerOwners(['prune/done.pdf', 'prune/failed.pdf', 'prune/stale.pdf'])
      t.same(owners.get('prune/done.pdf'), { itemId: done!.id, state: 'done', recordId: target.recordId })
      t.same(owners.get('prune/failed.pdf'), { itemId: failed!.id, state: 'failed', recordId: null })
      t.same(
        owners.get('prune/stale.pdf'),
        { itemId: stale!.id, state: 'failed', recordId: null },
        'an item its run left unfinished is kept as failed, never as active',
      )

      const later = await newRun(store, flow)
      const again = await store.addItems(later.id, [newItem('prune/done.pdf'), newItem('prune/failed.pdf')])
      t.same(again.added, [], 'a pruned file is still processed: not taken again')
      t.same(
        again.duplicates.map((d) => [d.item.ledgerKey, d.ownerItemId, d.ownerState]),
        [
          ['prune/done.pdf', done!.id, 'done'],
          ['prune/failed.pdf', failed!.id, 'failed'],
        ],
      )
      await store.releaseLedger(failed!.id)
      const retaken = await store.addItems(later.id, [newItem('prune/failed.pdf')])
      t.equal(retaken.added.length, 1, 'a pruned failed file whose claim is released can be taken again')

      t.same(
        await store.pruneRuns({
          finishedBefore: cutoff,
          keysCreatedBefore: cutoff,
          flows: { only: [] },
          limit: 10,
        }),
        { runs: 0, items: 0, idempotencyKeys: 0, busy: false },
        'no flow prunes nothing',
      )
    },
  )

  t.test('pruneRuns by every flow but some (export jobs and transfer runs age apart)', async (t) => {
    const store = await open(t)
    const veryOld = '2000-01-01T00:00:00.000Z'
    const job = await finishedRun(store, 'prune-except-job', 'succeeded', veryOld)
    const run = await finishedRun(store, 'prune-except-run', 'failed', veryOld)
    const pruned = await pruneAll(store, {
      finishedBefore: '2000-06-01T00:00:00.000Z',
      keysCreatedBefore: cutoff,
      flows: { except: ['prune-except-job'] },
      limit: 500,
    })
    t.equal(pruned.runs, 1)
    t.equal(await store.getRun(run.id), null)
    t.equal((await store.getRun(job.id))?.id, job.id, 'the excepted flow keeps its run')
  })

  t.test('an idempotency key lives as long as its run, and its run as long as the key', async (t) => {
    const store = await open(t)
    const flow = 'prune-keys'
    const input = {
      flow,
      trigger: 'schedule' as const,
      idempotencyKey: 'schedule:prune-keys:2001-01-01T00:00:00.000Z',
    }
    const first = await store.createRun(input)
    await store.updateRun(first.run.id, { state: 'succeeded', finishedAt: longAgo })
    const query = { finishedBefore: cutoff, keysCreatedBefore: cutoff, flows: { only: [flow] }, limit: 500 }
    t.equal((await pruneAll(store, query)).runs, 0, 'the key is younger than its cutoff: the run stays')
    const retry = await store.createRun(input)
    t.match(retry, { outcome: 'existing', run: { id: first.run.id } }, 'a late retry still gets the same run')

    const future = new Date(Date.now() + 60_000).toISOString()
    const pruned = await pruneAll(store, { ...query, keysCreatedBefore: future })
    t.match(pruned, { runs: 1, idempotencyKeys: 1 })
    const afterExpiry = await store.createRun(input)
    t.equal(afterExpiry.outcome, 'created', 'once pruned, the key is a new request')
    t.not(afterExpiry.run.id, first.run.id)
  })

  t.test('pruneReviews removes closed reviews only; one awaiting its resubmission stays', async (t) => {
    const store = await open(t)
    const base = {
      flow: 'prune-reviews',
      fileObject: 'cg__CaseFile__c',
      parentField: 'cg__Case__c',
      recordId: '500000000000009AAA',
      object: null,
      reasonCode: 'BLURRY',
      reason: 'out of focus',
      notify: null,
      previousCorrelationId: null,
    }
    const states = ['rejecting', 'rejected', 'resubmitted', 'failed'] as const
    for (const [i, state] of states.entries()) {
      const correlationId = `rv-prune0${i}`
      await store.createReview({
        ...base,
        correlationId,
        fileId: `a0B00000000090${i}AAA`,
        originalName: `f${i}.pdf`,
        returnedName: `f${i}__${correlationId}.pdf`,
      })
      if (state !== 'rejecting') await store.updateReview(correlationId, { state })
    }
    const past = await store.pruneReviews({ updatedBefore: cutoff, limit: 500 })
    t.same(past, { reviews: 0, busy: false }, 'nothing is older than a cutoff in the past')
    const future = new Date(Date.now() + 60_000).toISOString()
    let pruned = 0
    for (;;) {
      const batch = await store.pruneReviews({ updatedBefore: future, limit: 1 })
      t.ok(batch.reviews <= 1, 'a batch respects its limit')
      if (batch.reviews === 0) break
      pruned += batch.reviews
    }
    t.ok(pruned >= 2)
    t.same(
      (await store.findReviews({ flow: 'prune-reviews' })).map((r) => r.state),
      ['rejecting', 'rejected'],
      'open reviews survive; resubmitted and failed ones go',
    )
  })

  /** Outbox messages with unique dedupe keys on a channel of their own (cases share the database). */
  function outboxMessages(channel: string, n: number, runId: string | null = null): NewOutboxMessage[] {
    return Array.from({ length: n }, (_, i) => ({
      dedupeKey: `${channel}:${runId ?? 'none'}:${i}`,
      channel,
      event: 'run.failed',
      flow: 'outbox-flow',
      runId,
      body: { text: `message ${i}`, files: [{ path: `/inbox/${i}.pdf`, code: 'NO_MATCHING_RECORD' }] },
    }))
  }

  t.test(
    "outbox: a run's terminal state and its messages are written together; a dedupe key once",
    async (t) => {
      const store = await open(t)
      const run = await newRun(store, 'outbox-flow')
      const messages = outboxMessages('ob-run', 2, run.id)
      const updated = await store.updateRun(run.id, { state: 'failed' }, messages)
      t.equal(updated.state, 'failed')
      let page = await store.listOutbox({ channel: 'ob-run', limit: 10 })
      t.equal(page.messages.length, 2)
      t.match(page.messages[0], {
        channel: 'ob-run',
        event: 'run.failed',
        flow: 'outbox-flow',
        runId: run.id,
        state: 'pending',
        attempts: 0,
        leaseOwner: null,
        lastError: null,
        sentAt: null,
      })
      t.same(
        page.messages.map((m) => m.body).reverse(),
        messages.map((m) => m.body),
        'bodies come back as JSON (newest first)',
      )
      t.equal(await store.enqueueOutbox(messages), 0, 'the same dedupe keys are not written twice')
      t.equal(await store.enqueueOutbox(outboxMessages('ob-run-more', 3)), 3)
      page = await store.listOutbox({ channel: 'ob-run', limit: 10 })
      t.equal(page.messages.length, 2)
      await t.rejects(store.updateRun('run_missing', { state: 'failed' }, outboxMessages('ob-orphan', 1)), {
        code: 'NOT_FOUND',
      })
      t.same(
        (await store.listOutbox({ channel: 'ob-orphan', limit: 10 })).messages,
        [],
        'nothing without the run',
      )
    },
  )

  t.test('outbox: a rejection and its message are written together, only when created', async (t) => {
    const store = await open(t)
    const review = {
      correlationId: 'rv-outbox01',
      flow: 'outbox-review',
      fileId: 'a0B000000000901AAA',
      fileObject: 'cg__CaseFile__c',
      parentField: 'cg__Case__c',
      recordId: '500000000000001AAA',
      object: null,
      originalName: 'a.pdf',
      returnedName: 'a__rv-outbox01.pdf',
      reasonCode: 'BLURRY',
      reason: 'Out of focus',
      notify: { email: 'a@example.com' },
      previousCorrelationId: null,
    }
    const first = await store.createReview(review, outboxMessages('ob-review', 1))
    t.equal(first.outcome, 'created')
    const again = await store.createReview({ ...review, correlationId: 'rv-outbox02' }, [
      { ...outboxMessages('ob-review', 1)[0]!, dedupeKey: 'ob-review:other' },
    ])
    t.equal(again.outcome, 'existing')
    const page = await store.listOutbox({ channel: 'ob-review', limit: 10 })
    t.same(
      page.messages.map((m) => m.dedupeKey),
      ['ob-review:none:0'],
      'a repeat writes no message',
    )
  })

  t.test('outbox: claim leases due messages once; settle sends, retries later or fails', async (t) => {
    const store = await open(t)
    const other = await open(t)
    await store.enqueueOutbox(outboxMessages('ob-claim', 3))
    const [a, b] = await Promise.all([
      store.claimOutbox({ owner: 'worker-a', channel: 'ob-claim', limit: 2, leaseMs: 60_000 }),
      other.claimOutbox({ owner: 'worker-b', channel: 'ob-claim', limit: 2, leaseMs: 60_000 }),
    ])
    const claimed = [...a, ...b]
    t.equal(claimed.length, 3, 'every due message claimed')
    t.equal(new Set(claimed.map((m) => m.id)).size, 3, 'none claimed twice')
    for (const m of claimed) t.match(m, { state: 'sending', attempts: 1 })
    t.same(await store.claimOutbox({ owner: 'worker-c', channel: 'ob-claim', limit: 5, leaseMs: 60_000 }), [])
    const [first, second, third] = [...a, ...b] as [OutboxMessage, OutboxMessage, OutboxMessage]
    const ownerOf = (m: OutboxMessage) => (a.includes(m) ? 'worker-a' : 'worker-b')
    t.equal(
      await store.settleOutbox(first.id, 'worker-c', { state: 'sent' }),
      false,
      'only the lease owner settles',
    )
    t.equal(await store.settleOutbox(first.id, ownerOf(first), { state: 'sent' }), true)
    const error = { code: 'WEBHOOK_FAILED', message: 'HTTP 500' }
    t.equal(
      await store.settleOutbox(second.id, ownerOf(second), { state: 'pending', retryInMs: 0, error }),
      true,
    )
    t.equal(await store.settleOutbox(third.id, ownerOf(third), { state: 'failed', error }), true)
    const byId = new Map(
      (await store.listOutbox({ channel: 'ob-claim', limit: 10 })).messages.map((m) => [m.id, m]),
    )
    t.match(byId.get(first.id), { state: 'sent', leaseOwner: null, lastError: null })
    t.ok(byId.get(first.id)?.sentAt)
    t.match(byId.get(second.id), { state: 'pending', lastError: error, sentAt: null })
    t.match(byId.get(third.id), { state: 'failed', lastError: error })
    const retried = await store.claimOutbox({
      owner: 'worker-a',
      channel: 'ob-claim',
      limit: 5,
      leaseMs: 60_000,
    })
    t.same(
      retried.map((m) => [m.id, m.attempts]),
      [[second.id, 2]],
      'the retry is due again, one more attempt',
    )
  })

  t.test('outbox: a message waits for its retry time; an expired lease is taken over', async (t) => {
    const store = await open(t)
    await store.enqueueOutbox(outboxMessages('ob-later', 1))
    t.equal(await store.nextOutboxDue(['ob-later']), 0, 'due now')
    t.equal(await store.nextOutboxDue(['ob-nothing-here']), null)
    const [m] = await store.claimOutbox({ owner: 'w1', channel: 'ob-later', limit: 1, leaseMs: 60_000 })
    const error = { code: 'WEBHOOK_FAILED', message: 'HTTP 503' }
    await store.settleOutbox(m!.id, 'w1', { state: 'pending', retryInMs: 3_600_000, error })
    t.same(await store.claimOutbox({ owner: 'w1', channel: 'ob-later', limit: 1, leaseMs: 60_000 }), [])
    const due = await store.nextOutboxDue(['ob-later'])
    t.ok(due !== null && due > 3_500_000 && due <= 3_600_000, `due in about an hour (${due} ms)`)

    await store.enqueueOutbox(outboxMessages('ob-lease', 1))
    const [leased] = await store.claimOutbox({ owner: 'dead', channel: 'ob-lease', limit: 1, leaseMs: 1 })
    // A worker that died holds a lease that runs out; wait for the store's clock to pass it.
    const until = Date.parse(leased!.leaseUntil!)
    while (Date.now() <= until + 1) await new Promise((resolve) => setImmediate(resolve))
    const [taken] = await store.claimOutbox({
      owner: 'alive',
      channel: 'ob-lease',
      limit: 1,
      leaseMs: 60_000,
    })
    t.match(taken, { id: leased!.id, leaseOwner: 'alive', attempts: 2 })
    t.equal(
      await store.settleOutbox(leased!.id, 'dead', { state: 'sent' }),
      false,
      'the dead owner cannot settle',
    )
  })

  t.test('outbox: listOutbox pages newest first and filters by state and channel', async (t) => {
    const store = await open(t)
    await store.enqueueOutbox(outboxMessages('ob-list', 5))
    const [one] = await store.claimOutbox({ owner: 'w', channel: 'ob-list', limit: 1, leaseMs: 60_000 })
    await store.settleOutbox(one!.id, 'w', { state: 'sent' })
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await store.listOutbox({ channel: 'ob-list', limit: 2, ...(cursor ? { cursor } : {}) })
      t.ok(page.messages.length <= 2)
      seen.push(...page.messages.map((m) => m.id))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    t.equal(seen.length, 5)
    t.same(seen, [...seen].sort().reverse(), 'newest first (ids sort by time)')
    const sent = await store.listOutbox({ channel: 'ob-list', state: 'sent', limit: 10 })
    t.same(
      sent.messages.map((m) => m.id),
      [one!.id],
    )
    t.equal((await store.listOutbox({ channel: 'ob-list', state: 'pending', limit: 10 })).messages.length, 4)
    await t.rejects(store.listOutbox({ limit: 5, cursor: 'not-a-cursor' }), { code: 'VALIDATION_FAILED' })
  })
}
