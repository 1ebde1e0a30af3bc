/**
 * The sandbox's event bus: topics with their Avro schema, retained events
 * with replay ids (8-byte big-endian counters, as opaque to clients as
 * Salesforce's), and who waits for the next one.
 */
import { createHash, randomUUID } from 'node:crypto'
import avro from 'avsc'
import { type AvroRecordSchema, encodeChangedFields } from '../../../domain/pubsub-events.js'

export interface BusEvent {
  replayId: bigint
  id: string
  payload: Buffer
}

export interface Topic {
  name: string
  schema: AvroRecordSchema
  schemaId: string
  type: avro.Type
  events: BusEvent[]
}

const nullable = (type: unknown) => ['null', type]

function platformEventSchema(name: string, fields: readonly string[]): AvroRecordSchema {
  return {
    type: 'record',
    name,
    fields: [
      { name: 'CreatedDate', type: 'long' },
      { name: 'CreatedById', type: 'string' },
      ...fields.map((f) => ({ name: f, type: nullable('string') })),
    ],
  }
}

function changeEventSchema(name: string, fields: readonly string[]): AvroRecordSchema {
  const header = {
    type: 'record',
    name: 'ChangeEventHeader',
    fields: [
      { name: 'entityName', type: 'string' },
      { name: 'recordIds', type: { type: 'array', items: 'string' } },
      { name: 'changeType', type: 'string' },
      { name: 'changeOrigin', type: 'string' },
      { name: 'transactionKey', type: 'string' },
      { name: 'sequenceNumber', type: 'int' },
      { name: 'commitTimestamp', type: 'long' },
      { name: 'commitNumber', type: 'long' },
      { name: 'commitUser', type: 'string' },
      { name: 'nulledFields', type: { type: 'array', items: 'string' } },
      { name: 'diffFields', type: { type: 'array', items: 'string' } },
      { name: 'changedFields', type: { type: 'array', items: 'string' } },
    ],
  }
  return {
    type: 'record',
    name,
    fields: [
      { name: 'ChangeEventHeader', type: header },
      ...fields.map((f) => ({ name: f, type: nullable('string') })),
    ],
  }
}

export class EventBus {
  readonly topics = new Map<string, Topic>()
  private nextReplay = 1n
  private readonly listeners = new Set<() => void>()
  /** Open Subscribe streams per topic (tests: exactly one replica reads a topic). */
  readonly subscribers = new Map<string, number>()

  /** `/event/Name__e` with these (text) fields, or `/data/<Object>ChangeEvent` with these record fields. */
  define(topicName: string, fields: readonly string[]): Topic {
    const existing = this.topics.get(topicName)
    if (existing) return existing
    const name = topicName.split('/').pop() as string
    const schema = topicName.startsWith('/data/')
      ? changeEventSchema(name, fields)
      : platformEventSchema(name, fields)
    const json = JSON.stringify(schema)
    const topic: Topic = {
      name: topicName,
      schema,
      schemaId: createHash('sha256').update(json).digest('base64url').slice(0, 22),
      type: avro.Type.forSchema(schema as avro.Schema),
      events: [],
    }
    this.topics.set(topicName, topic)
    return topic
  }

  /** Appends encoded events; returns their replay ids. */
  append(topic: Topic, payloads: { id?: string; payload: Buffer }[]): BusEvent[] {
    const added = payloads.map((p) => ({
      replayId: this.nextReplay++,
      id: p.id || randomUUID(),
      payload: p.payload,
    }))
    topic.events.push(...added)
    for (const listener of [...this.listeners]) listener()
    return added
  }

  /** Encodes one event of a topic from its fields (the sandbox's own publishing). */
  encode(topic: Topic, fields: Record<string, unknown>): Buffer {
    const full: Record<string, unknown> = {}
    for (const field of topic.schema.fields) {
      full[field.name] = fields[field.name] ?? (field.name === 'CreatedDate' ? Date.now() : null)
    }
    if (topic.name.startsWith('/event/')) full.CreatedById ??= '005000000000001AAA'
    return topic.type.toBuffer(full)
  }

  /** Fields of a change event, its header filled and changedFields as the bitmap Salesforce sends. */
  changeEvent(
    topic: Topic,
    change: { recordId: string; changeType: string; fields: Record<string, unknown> },
  ) {
    const entity = (topic.name.split('/').pop() as string).replace(/ChangeEvent$/, '')
    return {
      ...change.fields,
      ChangeEventHeader: {
        entityName: entity,
        recordIds: [change.recordId],
        changeType: change.changeType,
        changeOrigin: 'com/salesforce/api/rest/63.0',
        transactionKey: randomUUID(),
        sequenceNumber: 1,
        commitTimestamp: Date.now(),
        commitNumber: Date.now(),
        commitUser: '005000000000001AAA',
        nulledFields: [],
        diffFields: [],
        changedFields: encodeChangedFields(Object.keys(change.fields), topic.schema),
      },
    }
  }

  /** Forgets all but the newest `count` events of every topic (retention ran out for the rest). */
  retainOnly(count: number): void {
    for (const topic of this.topics.values()) topic.events.splice(0, Math.max(0, topic.events.length - count))
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

export const replayIdBytes = (replayId: bigint): Buffer => {
  const buffer = Buffer.alloc(8)
  buffer.writeBigUInt64BE(replayId)
  return buffer
}

export const replayIdOf = (bytes: Buffer): bigint | null =>
  bytes.length === 8 ? bytes.readBigUInt64BE() : null
