import t from 'tap'
import { BridgeError } from '../../src/domain/errors.js'
import { createCompletions } from '../../src/flows/inbound/completions.js'
import type { CompleteResult } from '../../src/ports/sdrive.js'

interface Put {
  wipFileIds: string[]
  versionIds: (string | null)[]
}

/** A PUT /files that records each call and answers success, or what `answer` decides. */
function fakePut(answer?: (put: Put) => CompleteResult[] | Error) {
  const puts: Put[] = []
  const completeUpload = async (wipFileIds: string[], versionIds: (string | null)[]) => {
    const put = { wipFileIds, versionIds }
    puts.push(put)
    const out = answer ? answer(put) : wipFileIds.map((wipFileId) => ({ wipFileId, success: true }))
    if (out instanceof Error) throw out
    return out
  }
  return { puts, completeUpload }
}

/** Completions for a round that is not aborted. */
const completionsFor = (
  completeUpload: ReturnType<typeof fakePut>['completeUpload'],
  options: { lingerMs: number; maxIds?: number },
) => createCompletions({ completeUpload, signal: new AbortController().signal, ...options })

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
const nulls = (n: number) => Array.from({ length: n }, () => null)

t.test('a lone batch completes at once, without waiting', async (t) => {
  const { puts, completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 60_000 })
  const slot = completions.join()
  const results = await slot.complete(ids('a', 3), nulls(3))
  slot.leave()
  t.equal(puts.length, 1)
  t.same(
    results.map((r) => r.wipFileId),
    ['a0', 'a1', 'a2'],
  )
})

t.test('batches finishing while others upload share one PUT; each gets its own results', async (t) => {
  const { puts, completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 60_000 })
  const a = completions.join()
  const b = completions.join()
  const c = completions.join()
  const first = a.complete(ids('a', 2), nulls(2))
  const second = b.complete(ids('b', 3), nulls(3))
  t.equal(puts.length, 0, 'nothing sent while a batch could still join')
  c.leave()
  const [ra, rb] = await Promise.all([first, second])
  t.equal(puts.length, 1, 'the last batch leaving sends the shared PUT')
  t.same(puts[0]?.wipFileIds, ['a0', 'a1', 'b0', 'b1', 'b2'])
  t.same(
    ra.map((r) => r.wipFileId),
    ['a0', 'a1'],
  )
  t.same(
    rb.map((r) => r.wipFileId),
    ['b0', 'b1', 'b2'],
  )
})

t.test('a batch waits at most the linger for others still uploading', async (t) => {
  const { puts, completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 30 })
  const a = completions.join()
  const b = completions.join()
  const started = performance.now()
  await a.complete(ids('a', 1), nulls(1))
  t.ok(performance.now() - started >= 25, 'waited for the linger')
  t.equal(puts.length, 1)
  await b.complete(ids('b', 1), nulls(1))
  t.equal(puts.length, 2, 'the last one goes alone, at once')
})

t.test('never more than maxIds in one PUT', async (t) => {
  const { puts, completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 60_000, maxIds: 200 })
  const slots = [0, 1, 2, 3, 4].map(() => completions.join())
  const done = slots.slice(0, 3).map((s, i) => s.complete(ids(`s${i}-`, 100), nulls(100)))
  t.equal(puts.length, 1, 'two batches of 100 fill a PUT')
  t.equal(puts[0]?.wipFileIds.length, 200)
  for (const s of slots.slice(3)) s.leave()
  await Promise.all(done)
  t.same(
    puts.map((p) => p.wipFileIds.length),
    [200, 100],
  )
  // One request larger than the cap is sent whole (a batch is never split).
  const big = completionsFor(completeUpload, { lingerMs: 60_000, maxIds: 10 })
  const slot = big.join()
  await slot.complete(ids('x', 12), nulls(12))
  t.equal(puts.at(-1)?.wipFileIds.length, 12)
})

t.test('versioned and unversioned uploads never share a PUT', async (t) => {
  const { puts, completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 60_000 })
  const a = completions.join()
  const b = completions.join()
  const c = completions.join()
  const done = [
    a.complete(['a0'], [null]),
    b.complete(['b0', 'b1'], ['v0', null]),
    c.complete(['c0'], [null]),
  ]
  await Promise.all(done)
  const sorted = [...puts].sort((x, y) => String(x.wipFileIds[0]).localeCompare(String(y.wipFileIds[0])))
  t.same(sorted, [
    { wipFileIds: ['a0', 'c0'], versionIds: [null, null] },
    { wipFileIds: ['b0', 'b1'], versionIds: ['v0', null] },
  ])
})

t.test('a shared PUT refused as a whole is tried again per batch; a transient fault is not', async (t) => {
  const refused = fakePut((put) =>
    put.wipFileIds.includes('bad')
      ? new BridgeError('SDRIVE_ERROR', 'Unknown wipIds: bad', { details: { status: 404 } })
      : put.wipFileIds.map((wipFileId) => ({ wipFileId, success: true })),
  )
  const completions = completionsFor(refused.completeUpload, { lingerMs: 60_000 })
  const a = completions.join()
  const b = completions.join()
  const good = a.complete(['g0', 'g1'], nulls(2))
  const bad = b.complete(['bad'], nulls(1))
  t.same(
    (await good).map((r) => r.success),
    [true, true],
    "the other batch's files complete",
  )
  await t.rejects(bad, { code: 'SDRIVE_ERROR' }, 'the refusal lands on its own batch')
  t.same(
    refused.puts.map((p) => p.wipFileIds),
    [['g0', 'g1', 'bad'], ['g0', 'g1'], ['bad']],
  )

  const flaky = fakePut(() => new BridgeError('CONNECTION_LOST', 'socket hang up'))
  const shared = completionsFor(flaky.completeUpload, { lingerMs: 60_000 })
  const c = shared.join()
  const d = shared.join()
  const both = [c.complete(['c0'], nulls(1)), d.complete(['d0'], nulls(1))]
  for (const p of both) await t.rejects(p, { code: 'CONNECTION_LOST' })
  t.equal(
    flaky.puts.length,
    1,
    'a transient fault is not multiplied: each batch retries later with reconcile',
  )
})

t.test('an aborted round sends what waits without lingering', async (t) => {
  const { puts, completeUpload } = fakePut()
  const abort = new AbortController()
  const completions = createCompletions({ completeUpload, signal: abort.signal, lingerMs: 60_000 })
  const a = completions.join()
  const b = completions.join()
  const c = completions.join()
  const first = a.complete(['a0'], nulls(1))
  abort.abort()
  // The next batch to arrive (or leave) finds the round aborted and sends both at once.
  const second = b.complete(['b0'], nulls(1))
  await Promise.all([first, second])
  t.equal(puts.length, 1)
  c.leave()
})

t.test('complete() twice for one batch is a programming error', async (t) => {
  const { completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 10 })
  const slot = completions.join()
  await slot.complete(['a'], [null])
  await t.rejects(slot.complete(['a'], [null]), /twice/)
})

t.test('a wait of 0 sends every batch on its own', async (t) => {
  const { puts, completeUpload } = fakePut()
  const completions = completionsFor(completeUpload, { lingerMs: 0 })
  const a = completions.join()
  const b = completions.join()
  await a.complete(['a0'], [null])
  t.equal(puts.length, 1, 'sent although another batch could have joined')
  await b.complete(['b0'], [null])
  t.equal(puts.length, 2)
})
