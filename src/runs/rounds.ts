/**
 * A run is driven in rounds: each reads the run's items from the store and
 * moves what is due, so resuming after a restart is the same code path as
 * running for the first time. Between rounds the driver sleeps until the
 * earliest retry is due.
 */
import type { Clock } from '../ports/clock.js'
import type { ItemRecord } from '../ports/store.js'
import type { RunControl } from './driver.js'

export const ACTIVE_ITEM_STATES: readonly ItemRecord['state'][] = ['pending', 'transferring', 'finalizing']

export const isActiveItem = (item: ItemRecord): boolean => ACTIVE_ITEM_STATES.includes(item.state)

/** Items pending or interrupted whose retry time (if any) has come. */
export function isDue(item: ItemRecord, now: number): boolean {
  return (
    (item.state === 'pending' || item.state === 'transferring') &&
    (item.nextAttemptAt === null || Date.parse(item.nextAttemptAt) <= now)
  )
}

/** When to look again: the earliest retry due among active items (no time set: after baseDelayMs); null when none is active. */
export function nextWake(items: readonly ItemRecord[], now: number, baseDelayMs: number): number | null {
  const times = items
    .filter(isActiveItem)
    .map((i) => (i.nextAttemptAt ? Date.parse(i.nextAttemptAt) : now + baseDelayMs))
  return times.length === 0 ? null : Math.max(now, Math.min(...times))
}

/**
 * Runs rounds until one returns null (nothing left to do): `finished`; or
 * until the service drains or the lease is lost: `stopped` (the run stays
 * as it is for whoever drives it next). A shutdown or cancel during the
 * sleep throws its abort reason.
 */
export async function driveRounds(
  control: RunControl,
  clock: Clock,
  round: () => Promise<number | null>,
): Promise<'finished' | 'stopped'> {
  for (;;) {
    if (control.draining.aborted || control.lost.aborted) return 'stopped'
    const wake = await round()
    if (wake === null) return 'finished'
    await clock.sleep(Math.max(0, wake - clock.now()), AbortSignal.any([control.signal, control.draining]))
  }
}
