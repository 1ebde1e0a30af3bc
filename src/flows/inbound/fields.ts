/**
 * The file-fields stage: uploaded files whose target sets fields of their
 * S-Drive file record (`target.fields`) get them in one batched update per
 * file object (sObject Collections, 200 records a call), after the round's
 * uploads and before their source is disposed of. A record that refuses its
 * fields (a validation rule, a read-only field) fails its item with
 * FIELDS_REFUSED: the document is in S-Drive, the item says what is missing.
 */
import { isTransient, toBridgeError } from '../../domain/errors.js'
import type { SaveResult } from '../../ports/salesforce.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { itemFinished } from '../../runs/item-audit.js'
import { moveItem } from '../../runs/items.js'
import type { RunContext, SourceFolderFlow } from './context.js'
import { currentLocation } from './dispose.js'

const hasFields = (t: ItemTarget | null) => !!t?.fieldValues && Object.keys(t.fieldValues).length > 0

/** An uploaded file keeps its source until its fields are set. */
export function waitsForFields(item: ItemRecord): boolean {
  return hasFields(item.target) && !item.target?.fieldsApplied && !item.target?.alreadyInSDrive
}

/** Sets the fields of every uploaded file that waits for them: one batched update per file object. */
export async function applyFileFields(
  ctx: RunContext,
  flow: SourceFolderFlow,
  items: ItemRecord[],
): Promise<void> {
  const byObject = new Map<string, ItemRecord[]>()
  for (const item of items) {
    if (item.state !== 'finalizing' || !item.sdriveFileId || !waitsForFields(item)) continue
    const fileObject = (item.target as ItemTarget).fileObject
    byObject.set(fileObject, [...(byObject.get(fileObject) ?? []), item])
  }
  for (const [fileObject, group] of byObject) await applyToObject(ctx, flow, fileObject, group)
}

async function applyToObject(
  ctx: RunContext,
  flow: SourceFolderFlow,
  fileObject: string,
  group: ItemRecord[],
): Promise<void> {
  let results: SaveResult[]
  try {
    results = await ctx.sf.updateRecords(
      fileObject,
      group.map((i) => ({ Id: i.sdriveFileId, ...(i.target as ItemTarget).fieldValues })),
      { signal: ctx.control.shutdown },
    )
  } catch (error) {
    const e = toBridgeError(error, 'SALESFORCE_ERROR')
    if (isTransient(e)) {
      ctx.logger.warn(
        { flow: flow.name, code: e.code, err: e.message },
        'could not set file fields; will retry',
      )
      return
    }
    results = group.map(() => ({ id: null, success: false, errors: [{ message: e.message }] }))
  }
  // Side by side, so the store commits the whole group's outcomes at once.
  await Promise.all(
    group.map((item, i) => {
      const result = results[i]
      if (result?.success) {
        return ctx.store.updateItem(item.id, {
          target: { ...(item.target as ItemTarget), fieldsApplied: true },
        })
      }
      return refuse(ctx, flow, item, result?.errors.map((e) => e.message).join('; ') || 'no answer')
    }),
  )
}

async function refuse(ctx: RunContext, flow: SourceFolderFlow, item: ItemRecord, why: string): Promise<void> {
  ctx.events.emit({
    type: 'fault',
    flow: flow.name,
    code: 'FIELDS_REFUSED',
    runId: item.runId,
    itemId: item.id,
  })
  // The ledger keeps the file from being taken again; the source stays where it is for a person to look at.
  const failed = await moveItem(ctx.store, item, 'failed', {
    finalPath: currentLocation(item),
    error: {
      code: 'FIELDS_REFUSED',
      message: `uploaded to S-Drive as ${item.sdriveFileId}, but its file record refused the fields: ${why}`,
    },
  })
  ctx.events.emit(itemFinished(flow.kind, failed, 'failed', 0))
}
