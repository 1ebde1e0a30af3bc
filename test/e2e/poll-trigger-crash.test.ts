/**
 * The polling trigger across crashes: the service SIGKILLs itself (a test
 * hook, BRIDGE_TEST_POLL_KILL_AT) in each window of a tick's first batch of
 * 200 (intents written; records claimed in Salesforce; jobs stored but the
 * intents not yet cleared) and is started again: every requested record
 * still gets exactly one job, and its claim.
 */
import t from 'tap'
import { type ChildService, exitCodeOf } from '../support/child-service.js'
import { assertOneJobEach, claimed, jobsByRecord, pgQuery, pollSetup } from '../support/poll.js'
import { stopReplicas } from '../support/replicas.js'

/** Two batches: the kill comes in the first (200), the second is polled after the restart. */
const RECORDS = 220

t.setTimeout(10 * 60_000)

for (const step of ['intents-written', 'claimed', 'jobs-created'] as const) {
  t.test(`SIGKILL at "${step}" of a tick, restart: still one job per record`, async (t) => {
    const { setup, schema } = await pollSetup(t, RECORDS)
    setup.env.BRIDGE_TEST_POLL_KILL_AT = step
    const first = await setup.start()
    t.teardown(() => stopReplicas([first]))
    await exitCodeOf(first.proc)
    t.equal(first.proc.signalCode, 'SIGKILL', 'the service died in the window')
    const open = await pgQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".poll_claims`)
    t.equal(open[0]?.n, 200, 'the first batch is left open (intents written, job not recorded as made)')
    const jobsBefore = (await jobsByRecord(schema)).size
    t.equal(jobsBefore, step === 'jobs-created' ? 200 : 0, 'jobs made before the kill')
    t.equal(claimed(setup).length, step === 'intents-written' ? 0 : 200, 'claims written before the kill')

    delete setup.env.BRIDGE_TEST_POLL_KILL_AT
    const second: ChildService = await setup.start()
    t.teardown(() => stopReplicas([second]))
    await assertOneJobEach(t, setup, schema, RECORDS)
    await stopReplicas([second])
  })
}
