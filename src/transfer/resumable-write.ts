/**
 * Writing a file to a remote server so that a connection cut mid-file
 * continues from the size the server already holds: the server keeps its
 * bytes (SFTP writes at the offset, FTP appends with APPE), the source is
 * opened again at that offset (an S3 range request), and SHA-256 runs over
 * exactly the bytes of the file: the digest is rewound to a checkpoint at or
 * before the offset and the bytes from there to the offset are hashed again
 * without being sent again.
 */
import { type Readable, Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { BridgeError } from '../domain/errors.js'
import type { RemoteFiles } from '../ports/remote-files.js'
import { CheckpointedSha256 } from './checkpointed-sha256.js'
import { mayContinue, reconnectDelay, type TransferTally } from './resume-support.js'

export interface ResumableWriteRequest {
  path: string
  /** Read from its first byte by the first write. */
  source: Readable
  /** Bytes the source yields; more or fewer fail with FILE_CHANGED. */
  size: number
  /** Opens the source again from `offset` (an HTTP Range GET). */
  reopen: (offset: number) => Promise<Readable>
  signal?: AbortSignal | undefined
  /** Bytes written and continuations made are added here, also when the write fails. */
  tally: TransferTally
}

/**
 * Between the source and one write: hashes every byte, passes on all but the
 * first `skip` (already on the server), and checks the file's size.
 */
class ResumeFeed extends Transform {
  /** Bytes passed on to the write. */
  passed = 0

  constructor(
    private readonly hasher: CheckpointedSha256,
    private skip: number,
    private readonly size: number,
  ) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.hasher.position + chunk.length > this.size) {
      callback(this.changed(this.hasher.position + chunk.length))
      return
    }
    this.hasher.update(chunk)
    const skipped = Math.min(this.skip, chunk.length)
    this.skip -= skipped
    const out = skipped === 0 ? chunk : chunk.subarray(skipped)
    this.passed += out.length
    callback(null, out.length > 0 ? out : undefined)
  }

  override _flush(callback: TransformCallback): void {
    if (this.hasher.position !== this.size) callback(this.changed(this.hasher.position))
    else callback()
  }

  private changed(read: number): BridgeError {
    return new BridgeError(
      'FILE_CHANGED',
      `file size changed while reading: expected ${this.size} bytes, read ${read}`,
      { transient: true },
    )
  }
}

/** How long the size on the server must hold still before a continuation appends to it. */
const SETTLE_MS = 200
const SETTLE_LOOKS = 5

/**
 * The size the server holds once the cut session's last bytes are on disk: a
 * server may still be writing what it received when the new connection asks,
 * and an append after a size that then grows would put bytes twice. Null
 * when the file is gone or does not settle.
 */
async function settledSize(remote: RemoteFiles, request: ResumableWriteRequest): Promise<number | null> {
  const opts = { ...(request.signal ? { signal: request.signal } : {}), modifiedAt: false }
  let last = (await remote.stat(request.path, opts))?.size ?? null
  for (let look = 1; last !== null && look < SETTLE_LOOKS; look++) {
    await sleep(SETTLE_MS, undefined, request.signal ? { signal: request.signal } : {})
    const now = (await remote.stat(request.path, opts))?.size ?? null
    if (now === last) return now
    last = now
  }
  return null
}

/** Where the next write starts after a cut: the server's size, and the source's offset to hash from. */
async function continuationPoint(
  remote: RemoteFiles,
  request: ResumableWriteRequest,
  hasher: CheckpointedSha256,
): Promise<{ offset: number; from: number } | null> {
  const size = await settledSize(remote, request)
  if (size === null) return null
  // Below the reported size a pipelined write lost at the cut may have left a hole: rewrite the
  // last writes in flight too, never trust them.
  const at = Math.max(0, size - (remote.unorderedWriteBytes ?? 0))
  const from = hasher.rewind(at)
  return from === null ? null : { offset: at, from }
}

/** Writes the whole file, continuing after cuts where the endpoint's resume policy allows. */
export async function writeResumably(
  remote: RemoteFiles,
  request: ResumableWriteRequest,
): Promise<{ bytes: number; sha256: string }> {
  const { path, size, signal, tally } = request
  const hasher = new CheckpointedSha256()
  let source = request.source
  let offset = 0
  let resumes = 0
  for (;;) {
    const feed = new ResumeFeed(hasher, offset - hasher.position, size)
    pipeline(source, feed).catch(() => undefined)
    try {
      const { bytes } = await remote.write(path, feed, { ...(signal ? { signal } : {}), offset })
      tally.bytesMoved += feed.passed
      return { bytes: offset + bytes, sha256: hasher.digest() }
    } catch (error) {
      tally.bytesMoved += feed.passed
      feed.destroy()
      source.destroy()
      const decision = mayContinue(error, remote.resume, resumes, signal)
      if (!decision.allowed || !remote.resume) throw decision.error
      let point: { offset: number; from: number } | null
      try {
        await reconnectDelay(remote.resume, resumes + 1, signal)
        point = await continuationPoint(remote, request, hasher)
        if (point !== null) source = await request.reopen(point.from)
      } catch (refusal) {
        throw refusal instanceof BridgeError ? refusal : decision.error
      }
      // The server holds more than was sent, or less than can be rewound to: start again from zero.
      if (point === null) throw decision.error
      resumes++
      tally.resumes++
      offset = point.offset
    }
  }
}
