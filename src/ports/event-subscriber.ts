/**
 * A subscription to an event channel (the Salesforce Pub/Sub API): events in
 * order, decoded, handed over a batch at a time; the next batch is asked for
 * only once `handle` has settled the last one (bounded memory).
 */
import type { AvroRecordSchema } from '../domain/pubsub-events.js'

export interface StreamEvent {
  /** The replay id, hex: the position to resume after. */
  replayId: string
  /** The event's id (EventUuid); empty when it carries none. */
  id: string
  fields: Record<string, unknown>
  schema: AvroRecordSchema
}

export type StreamStart = { replayId: string } | { preset: 'LATEST' | 'EARLIEST' }

export interface SubscribeOptions {
  topic: string
  batchSize: number
  start: StreamStart
  /** Settles one batch; a rejection ends the stream, which resumes after the last batch that settled. */
  handle(events: StreamEvent[]): Promise<void>
}

export interface Subscription {
  stop(): Promise<void>
}

export interface EventSubscriber {
  subscribe(options: SubscribeOptions): Subscription
}
