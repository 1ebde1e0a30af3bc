/**
 * Reading a remote file so that a connection cut mid-file continues where it
 * stopped: each read's bytes go into one stream that the consumer sees from
 * its first byte to its last, so an S3 upload in progress stays open across
 * reconnects and the hashing after it sees exactly the file's bytes once. A
 * continuation reads from the offset on a new connection (SFTP read at the
 * offset, FTP REST) after checking the file is the one listed; a file that
 * changed meanwhile fails the attempt with FILE_CHANGED, which restarts it
 * from zero.
 */
import { PassThrough, type Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BridgeError } from '../domain/errors.js'
import type { RemoteFiles } from '../ports/remote-files.js'
import { mayContinue, reconnectDelay, type TransferTally } from './resume-support.js'

const STITCH_HIGH_WATER = 256 * 1024

export interface ResumableReadRequest {
  path: string
  /** The file as listed: a continuation is refused when its size or mtime differs now. */
  listed: { size: number; modifiedAt: number }
  signal?: AbortSignal | undefined
  /** Bytes read and continuations made are added here, also when the read fails. */
  tally: TransferTally
}

/** Hands one read's bytes to the stitched stream, counting them, without ending it. */
function forwardInto(out: PassThrough, onBytes: (n: number) => void): Writable {
  return new Writable({
    highWaterMark: STITCH_HIGH_WATER,
    write(chunk: Buffer, _encoding, callback) {
      if (out.destroyed) {
        callback(new Error('the consumer closed the stream'))
        return
      }
      onBytes(chunk.length)
      if (out.write(chunk)) {
        callback()
        return
      }
      const resume = () => {
        out.off('drain', resume)
        out.off('close', resume)
        callback()
      }
      out.on('drain', resume)
      out.on('close', resume)
    },
  })
}

/**
 * Whether a stat's mtime is the listed one, at the listing's precision: an FTP LIST line gives
 * minutes (days for files older than six months) where MDTM and SFTP give seconds, so a listed time
 * on a whole minute or day is compared at that unit; below a second, listings and stats round apart.
 */
export function sameListedTime(listedMs: number, statMs: number): boolean {
  const DAY = 86_400_000
  const MINUTE = 60_000
  const unit = listedMs % DAY === 0 ? DAY : listedMs % MINUTE === 0 ? MINUTE : 1000
  return Math.floor(listedMs / unit) === Math.floor(statMs / unit)
}

/** FILE_CHANGED unless the file still has the size and mtime it was listed with. */
async function assertUnchanged(remote: RemoteFiles, request: ResumableReadRequest): Promise<void> {
  const { path, listed } = request
  const now = await remote.stat(path, request.signal ? { signal: request.signal } : {})
  const mtimeKnown = listed.modifiedAt > 0 && (now?.modifiedAt ?? 0) > 0
  if (
    now === null ||
    now.size !== listed.size ||
    (mtimeKnown && !sameListedTime(listed.modifiedAt, now.modifiedAt))
  ) {
    throw new BridgeError(
      'FILE_CHANGED',
      `${path} changed while its transfer was cut (listed ${listed.size} bytes, now ${now?.size ?? 'gone'}): starting again from zero`,
      { transient: true, details: { path, listedSize: listed.size, size: now?.size ?? null } },
    )
  }
}

/**
 * Like `remote.read`, continuing after a cut where the endpoint's resume
 * policy allows. `consume` starts with the first byte of the first read (a
 * file that cannot be opened never starts it) and is what the call resolves
 * with.
 */
export async function readResumably<T>(
  remote: RemoteFiles,
  request: ResumableReadRequest,
  consume: (stream: Readable) => Promise<T>,
): Promise<T> {
  const { path, signal, tally } = request
  const out = new PassThrough({ highWaterMark: STITCH_HIGH_WATER })
  // The failure reaches the caller through the throw below; a consumer that already let go of the
  // stream (cancelled, failed) must not turn its 'error' into an uncaught exception.
  out.on('error', () => {})
  let offset = 0
  let resumes = 0
  let consumed: Promise<T> | undefined
  let consumerFailed = false
  const start = () => {
    consumed = consume(out)
    consumed.catch(() => {
      consumerFailed = true
    })
    return consumed
  }
  for (;;) {
    try {
      await remote.read(
        path,
        async (part) => {
          consumed ?? start()
          await pipeline(
            part,
            forwardInto(out, (n) => {
              offset += n
              tally.bytesMoved += n
            }),
          )
        },
        { ...(signal ? { signal } : {}), offset },
      )
      // An empty file never gave the consumer a byte, so it has not started yet.
      const result = consumed ?? start()
      out.end()
      return await result
    } catch (error) {
      const decision = mayContinue(error, remote.resume, resumes, signal)
      if (consumed && (consumerFailed || out.destroyed)) return await consumed
      if (!consumed || !decision.allowed) {
        out.destroy(decision.error)
        await consumed?.catch(() => undefined)
        throw decision.error
      }
      try {
        await reconnectDelay(remote.resume as NonNullable<RemoteFiles['resume']>, resumes + 1, signal)
        await assertUnchanged(remote, request)
      } catch (refusal) {
        const reason = refusal instanceof BridgeError ? refusal : decision.error
        out.destroy(reason)
        await consumed.catch(() => undefined)
        throw reason
      }
      resumes++
      tally.resumes++
    }
  }
}
