/**
 * What retention may delete at a given moment: the cutoff instants per kind,
 * from the configured days. Pure, so the rules are tested without a store.
 */

const dayMs = 86_400_000

export interface RetentionDays {
  runDays: number
  exportJobDays: number
  reviewDays: number
  idempotencyKeyDays: number
}

export interface RetentionCutoffs {
  /** Terminal transfer runs finished before this go; null keeps them forever (0 days). */
  runsFinishedBefore: string | null
  exportJobsFinishedBefore: string | null
  reviewsUpdatedBefore: string | null
  /**
   * A run holding an idempotency key used at or after this instant stays, whatever
   * its own cutoff says: the key must answer a retry for its whole window.
   * With 0 days no such run is ever pruned (the epoch is before every key).
   */
  keysCreatedBefore: string
}

export function retentionCutoffs(nowMs: number, days: RetentionDays): RetentionCutoffs {
  const before = (n: number) => (n === 0 ? null : new Date(nowMs - n * dayMs).toISOString())
  return {
    runsFinishedBefore: before(days.runDays),
    exportJobsFinishedBefore: before(days.exportJobDays),
    reviewsUpdatedBefore: before(days.reviewDays),
    keysCreatedBefore: before(days.idempotencyKeyDays) ?? new Date(0).toISOString(),
  }
}
