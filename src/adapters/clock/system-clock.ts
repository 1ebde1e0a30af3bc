import { setTimeout as delay } from 'node:timers/promises'
import type { Clock } from '../../ports/clock.js'

export const createSystemClock = (): Clock => ({
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined),
})
