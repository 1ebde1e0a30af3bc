/** withRetries: what a transient, a permanent, a pausing fault and an abort each do to a step. */
import t from 'tap'
import { BridgeError } from '../../src/domain/errors.js'
import type { Clock } from '../../src/ports/clock.js'
import { pauseWithoutAttempt, withRetries } from '../../src/runs/retry.js'

/** Sleeps are recorded, not waited for: the delays are the subject here. */
function recordingClock(): Clock & { slept: number[] } {
  const slept: number[] = []
  return {
    slept,
    now: () => 0,
    async sleep(ms, signal) {
      signal?.throwIfAborted()
      slept.push(ms)
    },
  } as Clock & { slept: number[] }
}

const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 }
const transient = (code = 'REMOTE_IO') => new BridgeError(code as 'REMOTE_IO', 'flaky', { transient: true })

t.test('a transient fault is retried up to maxAttempts, then thrown', async (t) => {
  const clock = recordingClock()
  const attempts: number[] = []
  let calls = 0
  await t.rejects(
    withRetries(
      async () => {
        calls++
        throw transient()
      },
      { policy, clock, signal: new AbortController().signal, onRetry: (_e, a) => void attempts.push(a) },
    ),
    { code: 'REMOTE_IO' },
  )
  t.equal(calls, 3)
  t.same(attempts, [1, 2])
  t.ok(clock.slept.every((ms) => ms >= 0 && ms <= 1000))
})

t.test('attempts used before count against maxAttempts', async (t) => {
  let calls = 0
  await t.rejects(
    withRetries(
      async () => {
        calls++
        throw transient()
      },
      { policy, clock: recordingClock(), signal: new AbortController().signal, attemptsUsed: 2 },
    ),
  )
  t.equal(calls, 1)
})

t.test('a permanent fault is thrown at once, with a default code for plain errors', async (t) => {
  await t.rejects(
    withRetries(
      async () => {
        throw new Error('boom')
      },
      { policy, clock: recordingClock(), signal: new AbortController().signal, defaultCode: 'REMOTE_IO' },
    ),
    { code: 'REMOTE_IO', message: 'boom' },
  )
})

t.test('the API limit pauses without using an attempt', async (t) => {
  const clock = recordingClock()
  let calls = 0
  const result = await withRetries(
    async () => {
      calls++
      if (calls <= 5) throw transient('API_LIMIT_EXCEEDED')
      if (calls <= 7) throw transient()
      return 'done'
    },
    { policy, clock, signal: new AbortController().signal, pauseFor: pauseWithoutAttempt(250) },
  )
  t.equal(result, 'done', 'five pauses and two retries fit in three attempts')
  t.same(clock.slept.slice(0, 5), [250, 250, 250, 250, 250])
})

t.test('an abort ends the retries with the fault as it was', async (t) => {
  const controller = new AbortController()
  const fault = transient()
  await t.rejects(
    withRetries(
      async () => {
        controller.abort()
        throw fault
      },
      { policy, clock: recordingClock(), signal: controller.signal },
    ),
    fault,
  )
})
