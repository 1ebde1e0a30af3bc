/**
 * The polling trigger's durable bookkeeping, shared by every process on one
 * database. A flow's poll lease lets one process poll it at a time; a claim
 * intent, written before a record is claimed in Salesforce and removed once
 * its job exists, is what a crash between the two leaves behind, so the
 * next poller finishes that record instead of losing or repeating it.
 * Adapters: src/adapters/store/sqlite-poll-claims.ts and postgres-poll-claims.ts.
 */

/** One record being claimed: its id and the SystemModstamp it was found with. */
export interface PollIntent {
  recordId: string
  stamp: string
}

export interface PollClaimStore {
  /**
   * Takes the flow's poll lease, or extends it when `owner` holds it already;
   * false while another owner's lease runs.
   */
  holdLease(flow: string, owner: string, leaseMs: number): Promise<boolean>
  /** Gives the lease up (a process that stops). */
  releaseLease(flow: string, owner: string): Promise<void>
  /**
   * Writes intents for records that have none; returns those written (a
   * record another poller is claiming already is left out).
   */
  begin(flow: string, intents: readonly PollIntent[]): Promise<PollIntent[]>
  /** The flow's intents still open, oldest first: records claimed (or about to be) whose job may not exist. */
  open(flow: string, limit: number): Promise<PollIntent[]>
  /** Removes intents: their jobs exist, or their claims were not written. */
  finish(flow: string, recordIds: readonly string[]): Promise<void>
  close(): Promise<void>
}
