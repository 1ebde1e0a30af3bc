/**
 * The decrypt stage of PGP flows (`pgp.decrypt`): each file of a batch is
 * read from the remote server, decrypted and its signature checked, into a
 * private temporary file, before S-Drive is asked for anything.
 *
 * Why before: the S3 upload declares its exact length (and S-Drive the file
 * size) up front, and a plaintext's length is only known once decrypted; and
 * a signature is only known good at the end of the stream, so nothing may
 * reach S-Drive before that. A file that fails here never gets a WIP record.
 * Memory stays flat (the plaintext streams to disk); the disk holds one
 * plaintext per file in flight, removed when the batch ends.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { SourceFlow } from '../../config/schema.js'
import { type BridgeError, toBridgeError } from '../../domain/errors.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import type { ItemRecord } from '../../ports/store.js'
import type { TransferQueue } from '../../queue/transfer-queue.js'
import { decryptMessage } from '../../transfer/pgp/decrypt.js'
import { inboundPgpKeys } from '../../transfer/pgp/key-cache.js'
import { currentLocation } from './dispose.js'

/** What decrypting needs of the batch's context. */
export interface DecryptContext {
  flow: SourceFlow
  remote: RemoteFiles
  queue: TransferQueue
  logger: Logger
  signal: AbortSignal
}

export interface Plaintext {
  file: string
  size: number
}

export interface DecryptedBatch {
  /** The files that decrypted, each with its plaintext's size as its size. */
  items: ItemRecord[]
  /** By item id. */
  plaintexts: Map<string, Plaintext>
  failed: { item: ItemRecord; error: BridgeError }[]
  /** Removes every plaintext; idempotent. */
  dispose(): Promise<void>
}

export async function decryptBatch(ctx: DecryptContext, items: ItemRecord[]): Promise<DecryptedBatch> {
  const settings = ctx.flow.pgp
  if (!settings) throw new Error('decryptBatch needs a flow with pgp')
  const directory = await mkdtemp(join(tmpdir(), 'bridge-pgp-'))
  const plaintexts = new Map<string, Plaintext>()
  const decrypted: ItemRecord[] = []
  const failed: DecryptedBatch['failed'] = []
  await Promise.all(
    items.map(async (item, index) => {
      const file = join(directory, `${index}.plain`)
      try {
        const keys = await inboundPgpKeys(settings)
        const { bytes } = await ctx.queue.run(ctx.remote.endpoint, () =>
          ctx.remote.read(
            currentLocation(item),
            (source: Readable) => decryptMessage(keys, source, createWriteStream(file, { mode: 0o600 })),
            { signal: ctx.signal },
          ),
        )
        plaintexts.set(item.id, { file, size: bytes })
        decrypted.push({ ...item, size: bytes })
        ctx.logger.info({ item: item.id, bytes }, 'PGP file decrypted and verified')
      } catch (error) {
        await rm(file, { force: true })
        failed.push({ item, error: toBridgeError(error, 'PGP_DECRYPT_FAILED') })
      }
    }),
  )
  let disposed = false
  return {
    items: items
      .filter((i) => plaintexts.has(i.id))
      .map((i) => decrypted.find((d) => d.id === i.id) as ItemRecord),
    plaintexts,
    failed,
    async dispose() {
      if (disposed) return
      disposed = true
      await rm(directory, { recursive: true, force: true })
    },
  }
}

/** The plaintext of a decrypted file, handed to `consume` like a remote read would hand the file. */
export async function readPlaintext<T>(
  plaintext: Plaintext,
  consume: (stream: Readable) => Promise<T>,
): Promise<T> {
  const stream = createReadStream(plaintext.file)
  try {
    return await consume(stream)
  } finally {
    stream.destroy()
  }
}
