import type { ApiUsage } from './salesforce.js'

/** What retention deletes: transfer runs, their items, export jobs, idempotency keys, closed reviews. */
export type RetentionKind = 'runs' | 'items' | 'export_jobs' | 'idempotency_keys' | 'reviews'

export type FileOutcome = 'done' | 'skipped' | 'failed' | 'retrying'

/** What the services report; the Prometheus adapter turns it into series. */
export interface BridgeMetrics {
  fileFinished(flow: string, outcome: FileOutcome, bytes: number): void
  failure(flow: string, code: string): void
  transferDuration(flow: string, seconds: number): void
  queueDepth(depth: number): void
  /** A run or export job ended in `state`; `succeeded` also stamps the flow's last success. */
  runFinished(flow: string, state: string): void
  apiUsage(usage: ApiUsage): void
  /** Whether Salesforce calls are paused org-wide for the API limit. */
  apiLimitPaused(paused: boolean): void
  /** A step of the review loop: a file returned to the partner, a correction received, a rejection that failed. */
  reviewEvent(flow: string, event: 'rejected' | 'resubmitted' | 'failed'): void
  /** Rows of status files, by what became of them. */
  statusRows(flow: string, outcome: 'applied' | 'rejected', count: number): void
  /** Rows retention deleted. */
  retentionPruned(kind: RetentionKind, rows: number): void
}
