/**
 * The per-file state machine. Every state change goes through `transition`,
 * so an impossible step (done → transferring) is a bug caught at once.
 */
import type { ItemState, RunCounts, RunState } from '../ports/store.js'
import { BridgeError } from './errors.js'

const allowed: Readonly<Record<ItemState, readonly ItemState[]>> = {
  // pending → finalizing: the file already is in S-Drive (skip policy), only the source is left to tidy
  pending: ['transferring', 'finalizing', 'failed', 'skipped'],
  // transferring → pending: a transient fault, retried later
  transferring: ['pending', 'finalizing', 'failed'],
  finalizing: ['done', 'skipped', 'failed', 'finalizing'],
  done: [],
  // failed → pending: an operator's retry
  failed: ['pending', 'failed'],
  skipped: [],
}

export function canTransition(from: ItemState, to: ItemState): boolean {
  return allowed[from].includes(to)
}

export function assertTransition(from: ItemState, to: ItemState): void {
  if (!canTransition(from, to)) {
    throw new BridgeError('INTERNAL', `illegal item transition ${from} → ${to}`)
  }
}

export const ACTIVE_ITEM_STATES: readonly ItemState[] = ['pending', 'transferring', 'finalizing']

/** Counts of a run with no items yet: what the stores add each state's count to. */
export function emptyRunCounts(): RunCounts {
  return {
    total: 0,
    pending: 0,
    transferring: 0,
    finalizing: 0,
    done: 0,
    failed: 0,
    skipped: 0,
    bytesDone: 0,
  }
}

/** The state a run ends in, from its item counts; null while work remains. */
export function finalRunState(counts: RunCounts): RunState | null {
  if (counts.pending + counts.transferring + counts.finalizing > 0) return null
  if (counts.failed === 0) return 'succeeded'
  if (counts.done + counts.skipped === 0) return 'failed'
  return 'partially_failed'
}
