/**
 * The Pub/Sub trigger of an outbound flow (issue 16): which Platform Event or
 * Change Data Capture channel starts its export jobs, which event fields name
 * the records, files and metadata, and which change events count. Kept apart
 * from schema.ts, which only refers to it.
 */
import { type Static, Type as T } from '@sinclair/typebox'

const FieldName = (description: string) =>
  T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$', maxLength: 80, description })

export const ChangeFilterSchema = T.Object(
  {
    field: FieldName('A field of the changed record, e.g. StageName.'),
    equals: T.Optional(
      T.Union([T.String(), T.Number(), T.Boolean(), T.Null()], {
        description: 'The value the field must now have, e.g. "Closed Won".',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A change event counts when this field is among ChangeEventHeader.changedFields (and, with `equals`, now has that value).',
  },
)

export const PubSubTriggerSchema = T.Object(
  {
    topic: T.String({
      pattern: '^/(event|data)/[A-Za-z][A-Za-z0-9_]*$',
      description:
        'A Platform Event channel (/event/SDrive_Export__e) or a Change Data Capture channel (/data/OpportunityChangeEvent).',
    }),
    recordIdField: T.Optional(
      FieldName(
        'Platform events: the field holding the record id to export (e.g. Record_Id__c). Change events take the ids from ChangeEventHeader.recordIds.',
      ),
    ),
    fileIdField: T.Optional(FieldName('Platform events: a field holding one S-Drive file id to export.')),
    metadataFields: T.Optional(
      T.Array(FieldName('An event field copied into the job metadata under its own name.'), {
        maxItems: 50,
        description: 'Event fields copied into the job metadata (as POST /v1/exports metadata).',
      }),
    ),
    changedFields: T.Optional(
      T.Array(ChangeFilterSchema, {
        minItems: 1,
        maxItems: 20,
        description:
          'Change events only: the event starts a job only when every condition holds, e.g. [{field: "StageName", equals: "Closed Won"}]. Only UPDATE and CREATE changes count.',
      }),
    ),
    startAt: T.Union([T.Literal('LATEST'), T.Literal('EARLIEST')], {
      default: 'LATEST',
      description:
        'Where the very first subscription starts (no replay id stored yet): new events only, or every event Salesforce still retains. Afterwards it resumes after the stored replay id.',
    }),
    batchSize: T.Integer({
      minimum: 1,
      maximum: 100,
      default: 50,
      description: 'Events requested at a time (FetchRequest.num_requested): bounds memory.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Export jobs started by events read through the Salesforce Pub/Sub API (no inbound connection needed).',
  },
)

export const FlowTriggerSchema = T.Object(
  { pubsub: T.Optional(PubSubTriggerSchema) },
  { additionalProperties: false, description: 'Triggers that need no inbound call from Salesforce.' },
)

export const SalesforcePubSubSchema = T.Object(
  {
    endpoint: T.String({
      pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}$',
      default: 'api.pubsub.salesforce.com:7443',
      description: 'host:port of the Pub/Sub API (gRPC).',
    }),
    tls: T.Boolean({
      default: true,
      description: 'gRPC over TLS (always with Salesforce; off only for a local sandbox).',
    }),
    reconnectMaxDelayMs: T.Integer({
      minimum: 100,
      default: 30_000,
      description: 'Longest wait between reconnect attempts (the backoff doubles from 500 ms up to it).',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'The Salesforce Pub/Sub API (flows with trigger.pubsub).',
  },
)

export type PubSubTrigger = Static<typeof PubSubTriggerSchema>
export type SalesforcePubSubConfig = Static<typeof SalesforcePubSubSchema>
