/**
 * The polling trigger (flows[].trigger.poll) end to end, acceptance of issue
 * 16 item 2: two service processes on one PostgreSQL schema poll the
 * Salesforce sandbox at once; 500 records in the requested state become 500
 * export jobs, each record claimed (its field set to the claim value) and
 * none twice. Crash windows: poll-trigger-crash-*.test.ts.
 */
import t from 'tap'
import { assertOneJobEach, pollSetup } from '../support/poll.js'
import { startReplicas, stopReplicas } from '../support/replicas.js'

const RECORDS = 500

// Jobs run while the test waits (one S-Drive query each): generous on a busy machine.
t.setTimeout(10 * 60_000)

t.test('500 requested records, 2 replicas polling: 500 jobs, claims written, none twice', async (t) => {
  const { setup, schema } = await pollSetup(t, RECORDS)
  const replicas = await startReplicas(t, setup, 2)
  await assertOneJobEach(t, setup, schema, RECORDS)
  const composite = setup.sandbox.calls.composite ?? 0
  t.ok(composite >= Math.ceil(RECORDS / 200), `claims went in batches of up to 200 (${composite} calls)`)
  await stopReplicas(replicas)
})
