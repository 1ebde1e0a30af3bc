/**
 * Issue 16 acceptance over real gRPC: the service SIGKILLed after about 400
 * of 1,000 events became jobs, and restarted, resumes after the replay id
 * stored with the last job: still exactly 1,000 jobs, none twice, all run.
 */
import { join } from 'node:path'
import t from 'tap'
import { exitCodeOf } from '../support/child-service.js'
import { publishEvents, pubsubSetup, sqliteCounter, TOPIC, waitForCounts } from '../support/pubsub.js'

// 1,000 jobs, a SIGKILL and a restart: minutes, not seconds, on a busy 2-core machine.
t.setTimeout(10 * 60_000)

const EVENTS = 1000

t.test('SIGKILL after ~400 jobs, restart → exactly 1,000 jobs', async (t) => {
  const setup = await pubsubSetup(t)
  const count = sqliteCounter(join(setup.dir, 'bridge.sqlite'))
  const first = await setup.start()
  while (setup.sandbox.pubsub!.subscribers(TOPIC) === 0) await new Promise((r) => setTimeout(r, 20))
  await publishEvents(setup, 0, EVENTS, 100)
  const before = await waitForCounts(count, (c) => c.jobs >= 400)
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  const atKill = await count()
  t.comment(`killed with ${atKill.jobs} jobs stored (${atKill.unfinished} not finished)`)
  t.ok(atKill.jobs < EVENTS, 'killed before every event became a job')
  t.ok(before.jobs >= 400)

  const second = await setup.start()
  t.teardown(async () => {
    second.proc.kill('SIGKILL')
    await exitCodeOf(second.proc)
  })
  const counts = await waitForCounts(count, (c) => c.jobs >= EVENTS && c.unfinished === 0)
  t.same(
    counts,
    { jobs: EVENTS, keys: EVENTS, events: EVENTS, unfinished: 0 },
    'one job per event, none twice, all run',
  )
})
