/**
 * Stage 1 of a status file: read it from the remote folder within the
 * flow's size limit and parse it into raw rows (the format rules are pure,
 * src/domain/status-file.ts).
 */
import type { StatusFlow } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { parseStatusFile, type RawRow } from '../../domain/status-file.js'
import type { ItemRecord } from '../../ports/store.js'
import type { StatusContext } from './detail.js'

type ReadContext = Pick<StatusContext, 'remote' | 'signal'>

/** The file's rows; throws STATUS_FILE_TOO_LARGE, or the parser's code for a malformed file. */
export async function parseStatusItem(
  ctx: ReadContext,
  flow: StatusFlow,
  item: ItemRecord,
): Promise<RawRow[]> {
  const bytes = await readBounded(ctx, item, flow.format.maxBytes)
  const parsed = parseStatusFile(bytes, flow.format)
  if (!parsed.ok) throw new BridgeError(parsed.code, `${item.name}: ${parsed.message}`)
  return parsed.rows
}

/** The whole file, refused before reading when listed too large and while reading when it grew. */
async function readBounded(ctx: ReadContext, item: ItemRecord, maxBytes: number): Promise<Buffer> {
  if (item.size > maxBytes) {
    throw new BridgeError(
      'STATUS_FILE_TOO_LARGE',
      `${item.name} is ${item.size} bytes; status files are limited to ${maxBytes} (format.maxBytes)`,
    )
  }
  return ctx.remote.read(
    item.path,
    async (stream) => {
      const chunks: Buffer[] = []
      let total = 0
      for await (const chunk of stream) {
        total += (chunk as Buffer).length
        if (total > maxBytes) {
          stream.destroy()
          throw new BridgeError(
            'STATUS_FILE_TOO_LARGE',
            `${item.name} grew beyond ${maxBytes} bytes while read`,
          )
        }
        chunks.push(chunk as Buffer)
      }
      return Buffer.concat(chunks)
    },
    { signal: ctx.signal },
  )
}
