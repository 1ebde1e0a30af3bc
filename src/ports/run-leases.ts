import type { RunRecord, RunState } from './store.js'

export interface ClaimQuery {
  /** This process (host, pid, a random part). */
  owner: string
  leaseMs: number
  flows: readonly string[]
  states: readonly RunState[]
  /** Only these runs (a retry asks for its own run). */
  ids?: readonly string[]
  /** Runs held for a window: only those whose notBefore is at or before this time. */
  dueBy?: string
  limit: number
}

/**
 * Who drives which run. Several processes on one database share the runs:
 * each claims the runs no live lease holds, renews its leases while it
 * works, and releases them when it stops. A process that dies stops
 * renewing, and its runs go to whoever claims them next. The database
 * decides (row locks, SKIP LOCKED), never memory in one process.
 */
export interface RunLeaseStore {
  /** Leases up to `limit` matching runs that nobody holds (or whose lease ran out), oldest first. */
  claim(query: ClaimQuery): Promise<RunRecord[]>
  /** Extends the leases this owner still holds; returns their run ids (a missing id was lost). */
  renew(owner: string, runIds: readonly string[], leaseMs: number): Promise<string[]>
  /** Gives leases up at once (a run that ended, or a drain that stopped before the end). */
  release(owner: string, runIds: readonly string[]): Promise<void>
  /**
   * A named lease on work that is not a run (one Pub/Sub subscription per
   * topic): taken when free or run out, extended when `owner` holds it;
   * false while another owner's lease is live.
   */
  hold(owner: string, name: string, leaseMs: number): Promise<boolean>
  /** Gives a named lease up at once, if `owner` holds it. */
  letGo(owner: string, name: string): Promise<void>
  close(): Promise<void>
}
