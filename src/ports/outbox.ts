/**
 * The notifications that events bring, as outbox messages to write in the
 * same transaction as the event: what the run driver and the review loop
 * know of notifications (src/notify/ implements it).
 */
import type { NewOutboxMessage, NewReview, RunRecord, RunState } from './store.js'

export interface NotificationOutbox {
  /** The messages a run's final state brings: at most one per channel, listing its failed files. */
  forRun(
    run: RunRecord,
    state: RunState,
    error: { code: string; message: string } | null,
  ): Promise<NewOutboxMessage[]>
  /** Refuses (VALIDATION_FAILED naming the field) a rejection's notify with an unknown channel or a bad email. */
  checkRejectionNotify(notify: Record<string, unknown> | undefined): void
  /** The rejection.created messages: the rules' channels and the rejection's own notify.email / notify.channel. */
  forRejection(review: NewReview): NewOutboxMessage[]
}
