import t from 'tap'
import { interruptionsExhausted, MAX_INTERRUPTIONS, retryDelayAfterFault } from '../../src/domain/attempts.js'

const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 }

t.test('a transient fault is retried while attempts remain, with backoff', async (t) => {
  t.equal(
    retryDelayAfterFault(1, true, policy, () => 1),
    100,
    'first retry: up to the base delay',
  )
  t.equal(
    retryDelayAfterFault(2, true, policy, () => 1),
    200,
    'second: doubled',
  )
  t.equal(
    retryDelayAfterFault(3, true, policy, () => 1),
    null,
    'the last attempt: failed',
  )
  t.equal(
    retryDelayAfterFault(7, true, policy, () => 1),
    null,
  )
})

t.test('a permanent fault fails at once', async (t) => {
  t.equal(retryDelayAfterFault(1, false, policy), null)
})

t.test('takeovers are bounded on their own, generously', async (t) => {
  t.ok(MAX_INTERRUPTIONS >= 10, 'more than the ten aimed kills of the issue')
  t.notOk(interruptionsExhausted(MAX_INTERRUPTIONS - 1))
  t.ok(interruptionsExhausted(MAX_INTERRUPTIONS))
})
