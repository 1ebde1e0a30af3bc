/**
 * Endpoint connection slots across processes (PostgreSQL advisory locks): a
 * partner who allows 2 connections gets at most 2 however many replicas
 * ask, a freed slot goes to a waiter, and a replica that dies frees its
 * slots with its database connections.
 */
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import t from 'tap'
import { createConnectionPool, SHARED_SLOT_IDLE_MS } from '../../src/adapters/remote/pool.js'
import { createPostgresSlots } from '../../src/adapters/store/postgres-slots.js'

const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

t.test('at most max slots across processes; a freed slot goes to the waiter', async (t) => {
  const schema = `slots_${randomBytes(4).toString('hex')}`
  const a = createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 })
  const b = createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  const first = await a.acquire('partner', 2)
  const second = await b.acquire('partner', 2)
  let third = false
  const waiting = a.acquire('partner', 2).then((release) => {
    third = true
    return release
  })
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(third, false, 'a third connection waits while two are open')
  const other = await b.acquire('other-partner', 1)
  t.pass('another endpoint has slots of its own')
  await second()
  const release3 = await waiting
  t.equal(third, true, 'the freed slot went to the waiter')
  await Promise.all([first(), release3(), other()])
  const controller = new AbortController()
  const both = [await a.acquire('partner', 2), await b.acquire('partner', 2)]
  const aborted = a.acquire('partner', 2, controller.signal)
  controller.abort(new Error('gave up'))
  await t.rejects(aborted, /gave up/, 'a waiter can give up')
  for (const release of both) await release()
})

t.test('a process that dies frees its slots with its connections', async (t) => {
  const schema = `slots_${randomBytes(4).toString('hex')}`
  const dying = createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 })
  const survivor = createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 })
  t.teardown(() => survivor.close())
  await dying.acquire('partner', 1)
  let got = false
  const waiting = survivor.acquire('partner', 1).then((release) => {
    got = true
    return release
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(got, false, 'held by the other process')
  await dying.close() // its database connections end, as when the process is killed
  const release = await waiting
  t.equal(got, true, 'taken over')
  await release()
})

t.test('two pools (two replicas) capped at 2 in total by shared slots', async (t) => {
  const schema = `slots_${randomBytes(4).toString('hex')}`
  const shared = [
    createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 }),
    createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 }),
  ]
  let live = 0
  let peak = 0
  const pools = shared.map((slots) =>
    createConnectionPool<{ id: number }>({
      name: 'partner',
      maxConnections: 2,
      idleCloseMs: 10,
      keepaliveIntervalMs: 1000,
      logger: pino({ level: 'silent' }),
      slots: { acquire: (signal) => slots.acquire('partner', 2, signal) },
      async create() {
        live++
        peak = Math.max(peak, live)
        return { id: live }
      },
      async destroy() {
        live--
      },
      isAlive: () => true,
    }),
  )
  t.teardown(async () => {
    for (const pool of pools) await pool.close()
    for (const slots of shared) await slots.close()
  })
  // Each replica runs 6 jobs of 20 ms with up to 2 connections of its own: 4 would be open without slots.
  await Promise.all(
    pools.flatMap((pool) =>
      Array.from({ length: 6 }, async () => {
        const lease = await pool.acquire()
        await new Promise((resolve) => setTimeout(resolve, 20))
        // Closing after use hands the slot on at once (a connection parked idle keeps it for a second).
        lease.release(true)
      }),
    ),
  )
  t.equal(peak, 2, 'never more than 2 connections open across both replicas')
})

t.test(
  'an idle connection holding a shared slot gives it up after a second, not after idleCloseMs',
  async (t) => {
    const schema = `slots_${randomBytes(4).toString('hex')}`
    const shared = [
      createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 }),
      createPostgresSlots({ url: pgUrl, schema, maxPollMs: 20 }),
    ]
    const pools = shared.map((slots) =>
      createConnectionPool<{ open: boolean }>({
        name: 'partner',
        maxConnections: 1,
        // Without the shorter idle period for shared slots, the second replica would wait this long.
        idleCloseMs: 10 * 60_000,
        keepaliveIntervalMs: 60_000,
        logger: pino({ level: 'silent' }),
        slots: { acquire: (signal) => slots.acquire('partner', 1, signal) },
        create: async () => ({ open: true }),
        async destroy(conn) {
          conn.open = false
        },
        isAlive: (conn) => conn.open,
      }),
    )
    t.teardown(async () => {
      for (const pool of pools) await pool.close()
      for (const slots of shared) await slots.close()
    })
    const [first, second] = pools as [(typeof pools)[0], (typeof pools)[0]]
    const used = await first.acquire()
    // From before the release that starts the idle period: a pause of this process between the two
    // (a loaded machine) cannot make the wait look shorter than the idle period.
    const started = Date.now()
    used.release(false)
    t.equal(first.stats().idle, 1, 'the first replica parks its connection, slot and all')
    const lease = await second.acquire()
    const waited = Date.now() - started
    t.ok(
      waited >= SHARED_SLOT_IDLE_MS - 50 && waited < 10 * 60_000,
      `the second replica got the slot after ${waited} ms (shared-slot idle period ${SHARED_SLOT_IDLE_MS} ms)`,
    )
    t.equal(used.conn.open, false, 'because the first closed its idle connection')
    lease.release(true)
  },
)
