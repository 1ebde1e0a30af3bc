/**
 * What a Pub/Sub event asks for (src/domain/pubsub-events.ts, pure): a
 * Platform Event's fields become an export request; a change event's
 * changedFields bitmaps decode to field names over the Avro schema's field
 * order, and the trigger's changedFields filter (with `equals`) decides
 * whether it counts. Only CREATE and UPDATE changes (and their GAP_ forms) do.
 */
import t from 'tap'
import type { PubSubTrigger } from '../../src/config/trigger-pubsub-schema.js'
import {
  type AvroRecordSchema,
  decideEvent,
  decodeChangedFields,
  encodeChangedFields,
} from '../../src/domain/pubsub-events.js'

const platformSchema: AvroRecordSchema = {
  type: 'record',
  name: 'SDrive_Export__e',
  fields: [
    { name: 'CreatedDate', type: 'long' },
    { name: 'CreatedById', type: 'string' },
    { name: 'Record_Id__c', type: ['null', 'string'] },
    { name: 'File_Id__c', type: ['null', 'string'] },
    { name: 'Batch__c', type: ['null', 'string'] },
  ],
}

// ChangeEventHeader is field 0; the record's fields follow; Name (field 3) is a compound with three parts.
const changeSchema: AvroRecordSchema = {
  type: 'record',
  name: 'OpportunityChangeEvent',
  fields: [
    { name: 'ChangeEventHeader', type: { type: 'record', name: 'ChangeEventHeader', fields: [] } },
    { name: 'StageName', type: ['null', 'string'] },
    { name: 'Amount', type: ['null', 'double'] },
    {
      name: 'Name',
      type: [
        'null',
        {
          type: 'record',
          name: 'Name',
          fields: [
            { name: 'Salutation', type: ['null', 'string'] },
            { name: 'FirstName', type: ['null', 'string'] },
            { name: 'LastName', type: ['null', 'string'] },
          ],
        },
      ],
    },
    { name: 'Description', type: ['null', 'string'] },
  ],
}

const trigger = (over: Partial<PubSubTrigger>): PubSubTrigger => ({
  topic: '/event/SDrive_Export__e',
  startAt: 'LATEST',
  batchSize: 50,
  ...over,
})

t.test('a Platform Event → the record, the file and the metadata it names', async (t) => {
  const pe = trigger({
    recordIdField: 'Record_Id__c',
    fileIdField: 'File_Id__c',
    metadataFields: ['Batch__c'],
  })
  t.same(
    decideEvent(
      pe,
      { Record_Id__c: '001A', File_Id__c: 'a0B1', Batch__c: 'b-7', CreatedDate: 1 },
      platformSchema,
    ),
    { kind: 'export', request: { recordIds: ['001A'], fileIds: ['a0B1'], metadata: { Batch__c: 'b-7' } } },
  )
  t.same(
    decideEvent(pe, { Record_Id__c: '001A', File_Id__c: null, Batch__c: null }, platformSchema),
    { kind: 'export', request: { recordIds: ['001A'] } },
    'null fields are left out, no empty metadata',
  )
  const onlyFile = trigger({ fileIdField: 'File_Id__c' })
  t.same(decideEvent(onlyFile, { File_Id__c: 'a0B2' }, platformSchema), {
    kind: 'export',
    request: { fileIds: ['a0B2'] },
  })
  const skipped = decideEvent(pe, { Record_Id__c: null, File_Id__c: '' }, platformSchema)
  t.equal(skipped.kind, 'skip', 'an event naming neither record nor file asks for nothing')
  t.match(skipped, { reason: /Record_Id__c/ })
})

t.test('changedFields bitmaps decode over the schema field order', async (t) => {
  // 0x2 = bit 1 = StageName; 0x14 = bits 2 and 4 = Amount, Description.
  t.same(decodeChangedFields(['0x2'], changeSchema), ['StageName'])
  t.same(decodeChangedFields(['0x14'], changeSchema), ['Amount', 'Description'])
  // Compound field 3 (Name): 0x6 = its fields 1 and 2.
  t.same(decodeChangedFields(['3-0x6'], changeSchema), ['Name.FirstName', 'Name.LastName'])
  t.same(decodeChangedFields(['0x2', '3-0x1'], changeSchema), ['StageName', 'Name.Salutation'])
  // More than one hex digit: bit 0 is the lowest bit of the LAST digit.
  const wide: AvroRecordSchema = {
    type: 'record',
    name: 'Wide',
    fields: Array.from({ length: 12 }, (_, i) => ({ name: `F${i}`, type: 'string' })),
  }
  t.same(decodeChangedFields(['0x801'], wide), ['F0', 'F11'])
  t.same(decodeChangedFields(['0x40'], changeSchema), [], 'a bit past the schema names nothing')
  t.same(decodeChangedFields(['9-0x1', '1-0x1'], changeSchema), [], 'no such or no compound field')
  t.same(decodeChangedFields(['StageName'], changeSchema), ['StageName'], 'a plain name is kept')
  t.same(
    decodeChangedFields(encodeChangedFields(['Description', 'StageName'], changeSchema), changeSchema),
    ['StageName', 'Description'],
    'encode (the sandbox) and decode agree',
  )
  t.same(encodeChangedFields(['NoSuchField'], changeSchema), [])
})

const change = (changeType: string, changed: string[], fields: Record<string, unknown>) => ({
  ...fields,
  ChangeEventHeader: {
    changeType,
    recordIds: ['006A', '006B'],
    changedFields: encodeChangedFields(changed, changeSchema),
  },
})

t.test('the changedFields filter, with equals; only CREATE and UPDATE count', async (t) => {
  const cdc = trigger({
    topic: '/data/OpportunityChangeEvent',
    changedFields: [{ field: 'StageName', equals: 'Closed Won' }],
    metadataFields: ['Description'],
  })
  const won = change('UPDATE', ['StageName', 'Amount'], { StageName: 'Closed Won', Description: 'big' })
  t.same(decideEvent(cdc, won, changeSchema), {
    kind: 'export',
    request: { recordIds: ['006A', '006B'], metadata: { Description: 'big' } },
  })
  const other = decideEvent(cdc, change('UPDATE', ['StageName'], { StageName: 'Prospecting' }), changeSchema)
  t.match(other, { kind: 'skip', reason: /StageName is not "Closed Won"/ }, 'changed, but not to the value')
  const untouched = decideEvent(
    cdc,
    change('UPDATE', ['Amount'], { StageName: 'Closed Won', Amount: 5 }),
    changeSchema,
  )
  t.match(untouched, { kind: 'skip', reason: /StageName did not change/ }, 'the value, but it did not change')
  t.same(
    decideEvent(cdc, change('CREATE', [], { StageName: 'Closed Won' }), changeSchema).kind,
    'export',
    'a CREATE is judged by the value only',
  )
  t.same(
    decideEvent(cdc, change('GAP_UPDATE', ['StageName'], { StageName: 'Closed Won' }), changeSchema).kind,
    'export',
  )
  for (const type of ['DELETE', 'UNDELETE', 'GAP_DELETE', 'GAP_OVERFLOW', '']) {
    const d = decideEvent(cdc, change(type, ['StageName'], { StageName: 'Closed Won' }), changeSchema)
    t.equal(d.kind, 'skip', `${type || 'no change type'} does not count`)
  }

  const anyStage = trigger({ topic: '/data/OpportunityChangeEvent', changedFields: [{ field: 'StageName' }] })
  t.equal(
    decideEvent(anyStage, change('UPDATE', ['StageName'], { StageName: 'X' }), changeSchema).kind,
    'export',
  )
  t.equal(decideEvent(anyStage, change('UPDATE', ['Amount'], { StageName: 'X' }), changeSchema).kind, 'skip')
  const both = trigger({
    topic: '/data/OpportunityChangeEvent',
    changedFields: [{ field: 'StageName', equals: 'Closed Won' }, { field: 'Amount' }],
  })
  t.equal(
    decideEvent(both, change('UPDATE', ['StageName'], { StageName: 'Closed Won' }), changeSchema).kind,
    'skip',
    'every condition must hold',
  )
  t.equal(
    decideEvent(both, change('UPDATE', ['StageName', 'Amount'], { StageName: 'Closed Won' }), changeSchema)
      .kind,
    'export',
  )
  const noFilter = trigger({ topic: '/data/OpportunityChangeEvent' })
  t.equal(decideEvent(noFilter, change('UPDATE', ['Description'], {}), changeSchema).kind, 'export')
  const noIds = { ChangeEventHeader: { changeType: 'UPDATE', recordIds: [], changedFields: [] } }
  t.match(decideEvent(noFilter, noIds, changeSchema), { kind: 'skip', reason: /names no record/ })
})
