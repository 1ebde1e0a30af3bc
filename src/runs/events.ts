/**
 * The run driver's event stream: what happened to runs, items and the
 * org's API limit, as typed values. Metrics, logs, SSE progress (and later
 * notifications and the console) subscribe to it; the flows only emit.
 */
import type { FileOutcome } from '../ports/metrics.js'
import type { RunState } from '../ports/store.js'

/** Which driver a run belongs to: the four flow kinds. */
export type RunKind = 'inbound' | 'status' | 'outbound' | 'review'

export interface EventError {
  code: string
  message: string
}

/**
 * What an auditor needs of one file's outcome, taken from its stored item
 * after the move: where it came from and went, the record it belongs to,
 * what S-Drive calls it, how many bytes with which digest, and why it failed.
 */
export interface ItemAudit {
  kind: RunKind
  /** The file on the remote server it was taken from; null for an export (its source is `sdriveFileId`). */
  sourcePath: string | null
  /** Where the file ended up: the processed or error folder for a source file, the delivered path for an export. */
  finalPath: string | null
  object: string | null
  recordId: string | null
  sdriveFileId: string | null
  bytes: number
  sha256: string | null
  attempts: number
  /** From the item's creation (discovery, or the export's plan) to its outcome. */
  durationMs: number | null
  code: string | null
  message: string | null
}

export type RunEvent =
  /** The driver began driving a run (first start, resume after a restart, or takeover). */
  | { type: 'run-started'; kind: RunKind; flow: string; runId: string }
  /** A run reached its final state (stored before the event). */
  | {
      type: 'run-finished'
      kind: RunKind
      flow: string
      runId: string
      state: RunState
      error: EventError | null
      /** The caller's Idempotency-Key, or the key an Outbound Message's notification id made. */
      idempotencyKey?: string
    }
  /** Something of the run changed: an item moved or bytes streamed (throttled per run). */
  | { type: 'run-progress'; flow: string; runId: string }
  /** This process stopped driving the run: it finished, or it was left for a restart or another replica. */
  | { type: 'run-settled'; kind: RunKind; flow: string; runId: string }
  /** An item ended (or will be tried again: `retrying`); bytes moved for `done`. */
  | {
      type: 'item-finished'
      flow: string
      runId: string
      itemId: string
      outcome: FileOutcome
      bytes: number
      /** For done, skipped and failed (not retrying): the audit trail's fields. */
      audit?: ItemAudit
    }
  /** A fault met on the way, whether or not it ends the item: counted by code. */
  | { type: 'fault'; flow: string; code: string; runId?: string; itemId?: string }
  /** How long one file's bytes took to move. */
  | { type: 'transfer-timed'; flow: string; seconds: number }
  /** A step of the review loop. */
  | { type: 'review'; flow: string; correlationId: string; step: 'rejected' | 'resubmitted' | 'failed' }
  /** Rows of a status file, by what became of them. */
  | { type: 'status-rows'; flow: string; outcome: 'applied' | 'rejected'; count: number }
  /** Salesforce calls paused (or resumed) org-wide for the daily API limit. */
  | { type: 'api-limit'; paused: boolean }

export type RunEventType = RunEvent['type']
export type RunEventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>
export type RunEventListener = (event: RunEvent) => void

export interface RunEvents {
  emit(event: RunEvent): void
  /** Every event from now on; returns the unsubscribe function. */
  subscribe(listener: RunEventListener): () => void
  /** Events of one type only. */
  on<T extends RunEventType>(type: T, listener: (event: RunEventOf<T>) => void): () => void
}

/**
 * A listener that throws must not stop the driver that emitted, nor the
 * other listeners: its error goes to `onListenerError` (a log line).
 */
export function createRunEvents(onListenerError: (error: unknown) => void = () => {}): RunEvents {
  const listeners = new Set<RunEventListener>()
  const subscribe = (listener: RunEventListener) => {
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
    }
  }
  return {
    emit(event) {
      for (const listener of [...listeners]) {
        try {
          listener(event)
        } catch (error) {
          onListenerError(error)
        }
      }
    },
    subscribe,
    on(type, listener) {
      return subscribe((event) => {
        if (event.type === type) listener(event as RunEventOf<typeof type>)
      })
    },
  }
}
