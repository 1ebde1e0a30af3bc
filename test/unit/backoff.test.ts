import t from 'tap'
import { backoffDelay } from '../../src/domain/backoff.js'

const opts = { baseMs: 100, maxMs: 5000 }

t.test('the cap grows exponentially and stops at maxMs', async (t) => {
  const top = () => 1
  t.equal(backoffDelay(0, opts, top), 100)
  t.equal(backoffDelay(1, opts, top), 200)
  t.equal(backoffDelay(3, opts, top), 800)
  t.equal(backoffDelay(6, opts, top), 5000)
  t.equal(backoffDelay(5000, opts, top), 5000, 'huge attempts stay finite')
})

t.test('full jitter: uniform between 0 and the cap', async (t) => {
  t.equal(
    backoffDelay(3, opts, () => 0),
    0,
  )
  t.equal(
    backoffDelay(3, opts, () => 0.5),
    400,
  )
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(4, opts)
    t.ok(d >= 0 && d <= 1600, `${d} within [0, 1600]`)
  }
})

t.test('odd inputs are clamped', async (t) => {
  t.equal(
    backoffDelay(-3, opts, () => 1),
    100,
    'negative attempt counts as the first',
  )
  t.equal(
    backoffDelay(1.7, opts, () => 1),
    200,
    'fractional attempt is floored',
  )
  t.equal(
    backoffDelay(2, opts, () => 7),
    400,
    'random above 1 is clamped',
  )
  t.equal(
    backoffDelay(2, opts, () => -1),
    0,
    'random below 0 is clamped',
  )
  t.equal(
    backoffDelay(2, { baseMs: 0, maxMs: 100 }, () => 1),
    0,
  )
})
