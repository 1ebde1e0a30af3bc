/** Writing a remote file over SFTP: the source gathered into large writes, several in flight. */
import type { Readable } from 'node:stream'
import type { SFTPWrapper } from 'ssh2'
import { connectionLost } from './failures.js'
import { CallerFailure, type OperationControl } from './operation.js'
import { call } from './sftp-channel.js'

const WRITES_IN_FLIGHT = 4
/** The largest write sent (the server's limit may be lower), and the bytes kept in flight. */
const WRITE_CHUNK = 256 * 1024
const WRITE_AHEAD = 1024 * 1024
/** At least the bytes of the writes in flight at once: maxInFlight × the write size is WRITE_AHEAD, one more may be on its way. */
export const SFTP_UNORDERED_WRITE_BYTES = WRITE_AHEAD + WRITE_CHUNK

interface Upload {
  readonly sftp: SFTPWrapper
  readonly handle: Buffer
  readonly maxInFlight: number
  /** Offset of the next write. */
  position: number
  /** Bytes the server confirmed. */
  acknowledged: number
  readonly inFlight: Set<Promise<void>>
  /** The first failed write's error; the upload fails with it. */
  writeError: unknown
  /** The source ended (or the upload gave up on it). */
  sourceDone: boolean
}

/** Sends one write at the next offset; waits while the window is full. */
async function send(upload: Upload, data: Buffer): Promise<void> {
  const { sftp, handle, inFlight } = upload
  const at = upload.position
  upload.position += data.length
  const write = call<undefined>((done) =>
    sftp.write(handle, data, 0, data.length, at, (error) => done(error, undefined)),
  ).then(
    () => {
      upload.acknowledged += data.length
      inFlight.delete(write)
    },
    (error: unknown) => {
      upload.writeError ??= error
      inFlight.delete(write)
    },
  )
  inFlight.add(write)
  if (inFlight.size >= upload.maxInFlight) await Promise.race(inFlight)
  if (upload.writeError) throw upload.writeError
}

/** Sends the whole source in writes of `writeSize` bytes (the last one shorter). */
async function sendSource(upload: Upload, chunks: AsyncIterator<unknown>, writeSize: number): Promise<void> {
  let gathered: Buffer[] = []
  let gatheredBytes = 0
  for (;;) {
    let next: IteratorResult<unknown>
    try {
      next = await chunks.next()
    } catch (error) {
      throw new CallerFailure(error)
    }
    if (next.done) {
      upload.sourceDone = true
      break
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string)
    if (chunk.length === 0) continue
    gathered.push(chunk)
    gatheredBytes += chunk.length
    if (gatheredBytes < writeSize) continue
    let all = gathered.length === 1 ? chunk : Buffer.concat(gathered, gatheredBytes)
    while (all.length >= writeSize) {
      await send(upload, all.subarray(0, writeSize))
      all = all.subarray(writeSize)
    }
    gathered = all.length > 0 ? [all] : []
    gatheredBytes = all.length
  }
  if (gatheredBytes > 0) await send(upload, Buffer.concat(gathered, gatheredBytes))
}

export async function writeFile(
  sftp: SFTPWrapper,
  control: OperationControl,
  path: string,
  source: Readable,
  offset = 0,
): Promise<{ bytes: number }> {
  // A continued upload keeps the bytes before `offset`: opened for writing without truncation.
  const handle = await call<Buffer>((done) => sftp.open(path, offset > 0 ? 'r+' : 'w', done))
  control.commit()
  // Writes queued behind a full channel window are not answered when the connection drops: the
  // channel's close fails the upload at once instead of after the stall deadline.
  const onClose = () => control.fail(connectionLost(`the connection closed while writing ${path}`))
  sftp.once('close', onClose)
  // The source's pieces (an HTTP body's are 16–64 KiB) are gathered into writes as large
  // as the server takes, several in flight: four 64 KiB writes at a time held a 2 GiB
  // upload to ~58 MiB/s.
  const limit = (sftp as unknown as { _maxWriteLen?: number })._maxWriteLen
  const writeSize = limit && limit > 0 ? Math.min(WRITE_CHUNK, limit) : WRITE_CHUNK
  const upload: Upload = {
    sftp,
    handle,
    maxInFlight: Math.max(WRITES_IN_FLIGHT, Math.floor(WRITE_AHEAD / writeSize)),
    position: offset,
    acknowledged: 0,
    inFlight: new Set<Promise<void>>(),
    writeError: undefined,
    sourceDone: false,
  }
  control.watch(() => ({
    bytes: upload.acknowledged,
    waitingOnLocal: !upload.sourceDone && upload.inFlight.size === 0,
  }))
  const chunks = source[Symbol.asyncIterator]()
  try {
    await sendSource(upload, chunks, writeSize)
    await Promise.all(upload.inFlight)
    if (upload.writeError) throw upload.writeError
  } catch (error) {
    sftp.off('close', onClose)
    upload.sourceDone = true
    await chunks.return?.()
    await Promise.all(upload.inFlight)
    // Not awaited: on a dead channel CLOSE is never answered.
    call<undefined>((done) => sftp.close(handle, (closeError) => done(closeError, undefined))).catch(
      () => undefined,
    )
    throw error
  }
  sftp.off('close', onClose)
  await call<undefined>((done) => sftp.close(handle, (error) => done(error, undefined)))
  return { bytes: upload.acknowledged }
}
