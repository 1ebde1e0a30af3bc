/**
 * Issue 16 acceptance over real gRPC: 1,000 SDrive_Export__e events published
 * to the sandbox's Pub/Sub API while the service runs become 1,000 export
 * jobs, one per event (its EventUuid the key), each run once.
 */
import { join } from 'node:path'
import t from 'tap'
import { exitCodeOf } from '../support/child-service.js'
import { publishEvents, pubsubSetup, sqliteCounter, TOPIC, waitForCounts } from '../support/pubsub.js'

// 1,000 jobs run to their end: minutes, not seconds, on a busy 2-core machine.
t.setTimeout(10 * 60_000)

const EVENTS = 1000

t.test('1,000 events published while the service runs → 1,000 jobs, each once', async (t) => {
  const setup = await pubsubSetup(t)
  const child = await setup.start()
  t.teardown(async () => {
    child.proc.kill('SIGKILL')
    await exitCodeOf(child.proc)
  })
  const count = sqliteCounter(join(setup.dir, 'bridge.sqlite'))
  // The default start is LATEST: events published before it subscribes are not its to read.
  const started = Date.now()
  while (setup.sandbox.pubsub!.subscribers(TOPIC) === 0) await new Promise((r) => setTimeout(r, 20))
  await publishEvents(setup, 0, EVENTS)
  const counts = await waitForCounts(count, (c) => c.jobs >= EVENTS && c.unfinished === 0)
  t.comment(`1,000 events → jobs finished in ${Date.now() - started} ms`)
  t.same(
    counts,
    { jobs: EVENTS, keys: EVENTS, events: EVENTS, unfinished: 0 },
    'one job per event, all finished',
  )
  t.equal(setup.sandbox.pubsub!.subscribers(TOPIC), 1, 'one subscription')
})
