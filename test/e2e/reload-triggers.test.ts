/**
 * Reload without a restart, for the triggers that start export jobs on their
 * own, over real sockets: the Salesforce sandbox (REST and its Pub/Sub API
 * over gRPC), an SFTP server and the bridge, in process. One bridge, started
 * with no trigger flow: a polled flow is added, changed and removed, then a
 * Pub/Sub flow is added, changed and removed, each by reloading the file.
 */

import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Database from 'better-sqlite3'
import t from 'tap'
import { type Harness, standardFlow } from '../support/harness.js'
import { eventsFlow, TOPIC } from '../support/pubsub.js'
import { type Config, type ReloadSetup, reloadSetup, until } from '../support/reload.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const CUSTOMERS = "Export_Status__c = 'Requested' AND Type != 'Hold'"
const HELD = "Export_Status__c = 'Requested' AND Type = 'Hold'"
const STREAM = `pubsub:events:${TOPIC}`

const pollFlow = (where: string, every: string) => ({
  name: 'polled',
  kind: 'outbound',
  source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
  destination: { endpoint: 'partner', directory: '/polled' },
  trigger: { poll: { object: 'Account', where, every, claim: { Export_Status__c: 'Queued' } } },
})

/** An Account with one S-Drive file, `<name>.pdf`. */
async function account(h: Harness, name: string, fields: Record<string, unknown> = {}) {
  const id = h.sandbox.insert('Account', { Name: name, ...fields })
  await seedSDriveFiles(
    h.server.bridge.sdrive,
    { parentId: id, fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    [{ name: `${name}.pdf`, content: `the file of ${name}` }],
  )
  return id
}

const status = (h: Harness, id: string) =>
  h.sandbox.records('Account').find((r) => r.Id === id)?.Export_Status__c

const jobsOf = async (s: ReloadSetup, flow: string) =>
  (await s.h.server.bridge.store.listRuns({ flow, limit: 100 })).runs

const recordOf = async (s: ReloadSetup, runId: string) =>
  ((await s.h.server.bridge.store.getRun(runId))?.request?.recordIds as string[] | undefined)?.[0]

const queries = (h: Harness) => h.sandbox.calls.query ?? 0

/**
 * When the next SOQL query reached the sandbox (no event says so: its counter is watched every
 * 20 ms): after the last look that did not see it yet, and by the look that did. Between the two
 * lies how late this process looked, which on a loaded machine is far more than 20 ms.
 */
async function nextQuery(h: Harness): Promise<{ after: number; by: number }> {
  const seen = queries(h)
  let after = performance.now()
  let by = after
  await until('a poll query', () => {
    const now = performance.now()
    if (queries(h) > seen) {
      by = now
      return true
    }
    after = now
    return false
  })
  return { after, by }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('reload: the polling and Pub/Sub triggers follow the file', async (t) => {
  const s = await reloadSetup(t, {
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
    sandbox: { pubsub: true },
    salesforce: (sandbox) => ({ pubsub: { endpoint: sandbox.pubsub?.endpoint, tls: false } }),
    store: { leaseMs: 3000 },
  })
  const { h } = s
  const pubsub = h.sandbox.pubsub!
  pubsub.define(TOPIC, ['Record_Id__c', 'Batch__c'])
  const db = new Database(join(s.dir, 'bridge.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const pollLease = () => db.prepare('SELECT owner FROM poll_leases WHERE flow = ?').get('polled')
  const topicLease = () => db.prepare('SELECT owner FROM trigger_leases WHERE name = ?').get(STREAM)
  const withFlows = (...flows: Config[]) => {
    const config = s.base()
    config.flows.push(...flows)
    return config
  }
  const requested = { Export_Status__c: 'Requested', Type: 'Customer' }
  const held = await account(h, 'Held-1', { Export_Status__c: 'Requested', Type: 'Hold' })

  await t.test('an added polled flow polls: one job per matching record, delivered', async (t) => {
    const customers = [await account(h, 'Polled-1', requested), await account(h, 'Polled-2', requested)]
    const res = await s.reload(withFlows(pollFlow(CUSTOMERS, '1s')))
    t.equal(res.status, 200)
    t.same(res.json.flows.added, ['polled'])
    const finished = await s.finished('polled', 2)
    t.same(
      finished.map((e) => e.state),
      ['succeeded', 'succeeded'],
    )
    const exported = await Promise.all(finished.map((e) => recordOf(s, e.runId)))
    t.same(exported.sort(), [...customers].sort(), 'each matching record is exported')
    t.same(await h.list('polled'), ['Polled-1.pdf', 'Polled-2.pdf'], 'delivered')
    await nextQuery(h)
    await nextQuery(h)
    t.equal((await jobsOf(s, 'polled')).length, 2, 'two polls later, still one job per record')
    t.equal(status(h, held), 'Requested', 'a record outside `where` is not claimed')
  })

  await t.test('a changed `where` and `every` apply from the next tick', async (t) => {
    const res = await s.reload(withFlows(pollFlow(HELD, '2s')))
    t.same(res.json.flows.changed, [{ name: 'polled', keys: ['trigger.poll.every', 'trigger.poll.where'] }])
    const finished = await s.finished('polled', 3)
    t.equal(await recordOf(s, finished[2]!.runId), held, 'the new `where` finds the held record')
    const customer = await account(h, 'Polled-3', requested)
    const first = await nextQuery(h)
    const second = await nextQuery(h)
    // A timer never fires early: under the old `every` the polls came a second apart. The most the
    // two polls can have been apart (late looks make the least of it shrink, not this) is ≥ 2 s.
    const most = second.by - first.after
    t.ok(
      most >= 1900,
      `the new every: ${Math.round(second.after - first.by)}-${Math.round(most)} ms between polls`,
    )
    t.equal(status(h, customer), 'Requested', 'the old `where` is not polled any more')
    t.equal((await jobsOf(s, 'polled')).length, 3)
  })

  await t.test('a removed polled flow stops polling and gives its lease up', async (t) => {
    t.ok(pollLease(), 'the lease is held while the flow is polled')
    const res = await s.reload(s.base())
    t.same(res.json.flows.removed, ['polled'])
    t.equal(pollLease(), undefined, 'the poll lease is released by the reload')
    const late = await account(h, 'Held-2', { Export_Status__c: 'Requested', Type: 'Hold' })
    const before = queries(h)
    // Nothing happens to wait for: longer than the last `every`, a poll would have run.
    await pause(2500)
    t.equal(queries(h), before, 'no poll query since')
    t.equal(status(h, late), 'Requested', 'a record matching afterwards is not claimed')
    t.equal((await jobsOf(s, 'polled')).length, 3, 'nor exported')
  })

  const acme = await account(h, 'Acme-Events')
  const subscriptions = () => h.logs.filter((l) => l.includes('subscribing: this process holds')).length
  const publish = (batch: string) => pubsub.publish(TOPIC, [{ Record_Id__c: acme, Batch__c: batch }])

  await t.test('an added Pub/Sub flow subscribes: a published event gives one job', async (t) => {
    const res = await s.reload(withFlows(eventsFlow('partner')))
    t.same(res.json.flows.added, ['events'])
    await until('the subscription', () => pubsub.subscribers(TOPIC) === 1)
    publish('one')
    const [job] = await s.finished('events', 1)
    t.equal(job?.state, 'succeeded')
    t.equal((await h.server.bridge.store.getRun(String(job?.runId)))?.trigger, 'pubsub')
    t.same(await h.list('outbox'), ['Acme-Events.pdf'])
  })

  await t.test('a changed flow keeps its subscription unless its trigger changed', async (t) => {
    const moved = eventsFlow('partner')
    moved.destination.directory = '/outbox-2'
    const res = await s.reload(withFlows(moved))
    t.same(res.json.flows.changed, [{ name: 'events', keys: ['destination.directory'] }])
    publish('two')
    await s.finished('events', 2)
    t.same(await h.list('outbox-2'), ['Acme-Events.pdf'], 'the next job uses the new directory')
    t.equal(subscriptions(), 1, 'the same subscription read it')

    moved.trigger.pubsub.batchSize = 10
    t.same((await s.reload(withFlows(moved))).json.flows.changed, [
      { name: 'events', keys: ['trigger.pubsub.batchSize'] },
    ])
    t.equal(subscriptions(), 2, 'a changed trigger subscribes anew')
    await until('one subscription', () => pubsub.subscribers(TOPIC) === 1)
    publish('three')
    await s.finished('events', 3)
    t.equal((await jobsOf(s, 'events')).length, 3, 'resumed after the last event: none read twice')
  })

  await t.test('a removed Pub/Sub flow unsubscribes and lets its lease go', async (t) => {
    t.ok(topicLease(), 'the topic lease is held while the flow reads')
    const res = await s.reload(s.base())
    t.same(res.json.flows.removed, ['events'])
    t.equal(topicLease(), undefined, 'the topic lease is let go by the reload')
    await until('no subscription', () => pubsub.subscribers(TOPIC) === 0)
    publish('four')
    // Nothing to wait for: two lease periods' ticks (leaseMs / 6 each) would have subscribed again.
    await pause(1000)
    t.equal(pubsub.subscribers(TOPIC), 0, 'nothing subscribes again')
    t.equal((await jobsOf(s, 'events')).length, 3, 'an event published after the removal gives no job')
  })
})
