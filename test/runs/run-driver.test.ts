/**
 * The run driver on its own, over a real SQLite store and real run leases:
 * what every flow kind relies on (claim, launch, finish, cancel, drain,
 * lease loss, the claim loop's slots) without any flow in it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createSystemClock } from '../../src/adapters/clock/system-clock.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { createSqliteRunLeases } from '../../src/adapters/store/sqlite-leases.js'
import type { RunLeaseStore } from '../../src/ports/run-leases.js'
import type { RunRecord, Store } from '../../src/ports/store.js'
import { createRunDriver, type RunControl, type RunDriverOptions } from '../../src/runs/driver.js'
import { createRunEvents, type RunEvent } from '../../src/runs/events.js'
import { createLeaseKeeper } from '../../src/runs/lease-keeper.js'
import { driveRounds } from '../../src/runs/rounds.js'

const logger = pino({ level: 'silent' })
const clock = createSystemClock()

interface Fixture {
  store: Store
  events: RunEvent[]
  driver(
    options: Partial<RunDriverOptions<string>> & Pick<RunDriverOptions<string>, 'drive'>,
  ): ReturnType<typeof createRunDriver<string>>
  newRun(): Promise<RunRecord>
}

async function fixture(
  t: Test,
  wrapLeases: (l: RunLeaseStore) => RunLeaseStore = (l) => l,
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-driver-'))
  const path = join(dir, 'bridge.sqlite')
  const store = createSqliteStore({ path })
  await store.migrate()
  const seen: RunEvent[] = []
  const events = createRunEvents()
  events.subscribe((e) => seen.push(e))
  const closers: (() => Promise<void>)[] = []
  t.teardown(async () => {
    for (const close of closers.reverse()) await close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    store,
    events: seen,
    driver(options) {
      const leases = createLeaseKeeper({
        leases: wrapLeases(createSqliteRunLeases({ path })),
        leaseMs: 300,
        logger,
      })
      const driver = createRunDriver<string>({
        flows: new Map([['f1', 'inbound']]),
        store,
        clock,
        leases,
        events,
        logger,
        claimIntervalMs: 60_000,
        ...options,
      })
      closers.push(async () => {
        await driver.close()
        await leases.close()
      })
      return driver
    },
    newRun: async () => (await store.createRun({ flow: 'f1', trigger: 'api' })).run,
  }
}

t.test(
  'a run claimed by id is driven once, finished through control, and its events come in order',
  async (t) => {
    const f = await fixture(t)
    const hints: (string | undefined)[] = []
    const driver = f.driver({
      async drive(runs, control, hint) {
        hints.push(hint)
        for (const run of runs) await control.finish(run, 'succeeded', null)
      },
    })
    const run = await f.newRun()
    await driver.claim([run.id], 'by-id')
    await driver.claim([run.id], 'again')
    await driver.settled(run.id)
    t.same(hints, ['by-id'], 'driven once, with the hint of its launch')
    t.equal((await f.store.getRun(run.id))?.state, 'succeeded')
    t.ok((await f.store.getRun(run.id))?.finishedAt)
    t.same(
      f.events.map((e) => e.type),
      ['run-started', 'run-finished', 'run-settled'],
    )
    t.match(f.events[1], {
      type: 'run-finished',
      kind: 'inbound',
      flow: 'f1',
      runId: run.id,
      state: 'succeeded',
    })
    t.notOk(driver.isDriving(run.id))
  },
)

t.test(
  'start() takes over waiting runs within maxActiveRuns; a freed slot takes the next at once',
  async (t) => {
    const f = await fixture(t)
    const runs = [await f.newRun(), await f.newRun(), await f.newRun()]
    const resumed: string[] = []
    let active = 0
    let most = 0
    const release = new Map<string, () => void>()
    const driver = f.driver({
      maxActiveRuns: 2,
      async beforeResume(run) {
        resumed.push(run.id)
      },
      async drive([run], control) {
        active++
        most = Math.max(most, active)
        await new Promise<void>((resolve) => release.set(run!.id, resolve))
        active--
        await control.finish(run!, 'succeeded')
      },
    })
    await driver.start()
    t.equal(release.size, 2, 'two driven, the third waits for a slot')
    const [first] = [...release.keys()]
    release.get(first!)!()
    await driver.settled(first!)
    // The claim interval is a minute: the third run starts because the slot freed, not because of a tick.
    // Up to 20 s (not 2 s) to see it start: the bound only stops a hang, and stays well under the minute.
    for (let i = 0; i < 1000 && release.size < 3; i++) await clock.sleep(20)
    t.equal(release.size, 3)
    for (const [id, done] of release) if (id !== first) done()
    for (const run of runs) await driver.settled(run.id)
    t.equal(most, 2)
    t.same(resumed.sort(), runs.map((r) => r.id).sort(), 'every run taken over went through beforeResume')
  },
)

t.test('cancel aborts the run signal and resolves once the driver stopped', async (t) => {
  const f = await fixture(t)
  let seen: RunControl | undefined
  const driver = f.driver({
    async drive([run], control) {
      seen = control
      await clock.sleep(60_000, control.signal).catch(() => undefined)
      await control.finish(run!, control.cancelled.aborted ? 'cancelled' : 'succeeded', {
        code: 'CANCELLED',
        message: 'cancelled by request',
      })
    },
  })
  const run = await f.newRun()
  await driver.claim([run.id])
  t.equal(await driver.cancel(run.id, 'cancelled by request'), true)
  t.ok(seen?.cancelled.aborted)
  t.notOk(seen?.stopped(), 'a cancel is not a stop: the run ends here')
  t.equal((await f.store.getRun(run.id))?.state, 'cancelled')
  t.equal(await driver.cancel(run.id, 'again'), false, 'not driven any more')
})

t.test('close drains first, lets work in flight finish within the grace, then aborts the rest', async (t) => {
  const f = await fixture(t)
  const order: string[] = []
  const driver = f.driver({
    async drive([run], control) {
      await driveRounds(control, clock, async () => {
        order.push(`round ${run!.id === quick.id ? 'quick' : 'slow'}`)
        return clock.now() + 10
      }).then(
        (how) => order.push(how),
        () => order.push('aborted'),
      )
      if (run!.id === slow.id) {
        await clock.sleep(60_000, control.shutdown).catch(() => order.push('shutdown'))
      }
    },
  })
  const quick = await f.newRun()
  const slow = await f.newRun()
  await driver.claim([quick.id])
  await driver.claim([slow.id])
  await driver.close({ graceMs: 200 })
  t.ok(order.includes('stopped') || order.includes('aborted'), 'the rounds stopped at the drain')
  t.equal(order.at(-1), 'shutdown', 'the slow one was aborted when the grace ran out')
  t.equal((await f.store.getRun(quick.id))?.state, 'queued', 'left as it was for the next start')
  t.equal(f.events.filter((e) => e.type === 'run-settled').length, 2)
})

t.test('a lost lease stops the run without finishing it', async (t) => {
  let lose = false
  const f = await fixture(t, (leases) => ({
    ...leases,
    claim: (q) => leases.claim(q),
    release: (o, ids) => leases.release(o, ids),
    close: () => leases.close(),
    renew: async (owner, ids, ms) => (lose ? [] : leases.renew(owner, ids, ms)),
  }))
  let stoppedByLoss = false
  const driver = f.driver({
    async drive(_runs, control) {
      const how = await driveRounds(control, clock, async () => {
        lose = true
        return clock.now() + 50
      }).catch(() => 'aborted')
      stoppedByLoss = control.lost.aborted && (how === 'stopped' || how === 'aborted')
    },
  })
  const run = await f.newRun()
  await driver.claim([run.id])
  await driver.settled(run.id)
  t.ok(stoppedByLoss)
  t.equal((await f.store.getRun(run.id))?.state, 'queued')
  t.notOk(f.events.some((e) => e.type === 'run-finished'))
})

t.test('a listener that throws does not stop the others or the emitter', async (t) => {
  const failures: unknown[] = []
  const events = createRunEvents((error) => failures.push(error))
  const got: string[] = []
  events.subscribe(() => {
    throw new Error('listener broke')
  })
  const off = events.on('fault', (e) => got.push(e.code))
  events.emit({ type: 'fault', flow: 'f', code: 'REMOTE_IO' })
  events.emit({ type: 'api-limit', paused: true })
  off()
  events.emit({ type: 'fault', flow: 'f', code: 'LATER' })
  t.same(got, ['REMOTE_IO'])
  t.equal(failures.length, 3)
})
