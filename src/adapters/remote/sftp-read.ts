/** Reading a remote file over SFTP with several reads in flight. */
import { Readable } from 'node:stream'
import type { SFTPWrapper, Stats } from 'ssh2'
import type { BridgeError } from '../../domain/errors.js'
import { CallerFailure, type OperationControl } from './operation.js'
import { call, sftpError } from './sftp-channel.js'

const READ_CHUNK = 256 * 1024

/** Bytes requested ahead of the consumer: the whole window is in flight at once. */
const READ_AHEAD = 1024 * 1024

interface ReadRequest {
  offset: number
  length: number
  data: Promise<Buffer>
}

/**
 * Streams a remote file with several reads in flight. One read at a time
 * waits a round trip per chunk (OpenSSH answers at most 255 KiB a read, the
 * in-process server 32 KiB), which held a 2 GiB download to ~20 MiB/s; reads
 * are issued ahead up to READ_AHEAD bytes and delivered in order. The window
 * opens gradually (1, 2, 4, … reads) so a small file costs no more requests or
 * memory than before; a short read is completed before anything after it.
 * The handle's size (FSTAT, sent beside the first read) marks the end, which
 * spares the read that would only answer EOF: a round trip per small file.
 */
class SftpReadStream extends Readable {
  bytes = 0
  /** The consumer is waiting for the server (the stall watchdog's "not our fault" test). */
  reading = false
  private readonly chunk: number
  private readonly maxDepth: number
  private depth = 1
  private nextOffset: number
  private ended = false
  /** From FSTAT, once it answered; undefined: read until a read answers EOF. */
  private size: number | undefined
  private readonly queue: ReadRequest[] = []

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    private readonly onFailure: (error: unknown) => BridgeError,
    /** The byte the stream starts at (a resumed read); `bytes` counts from here. */
    private readonly start: number,
  ) {
    super({ highWaterMark: READ_CHUNK })
    this.nextOffset = start
    // ssh2 splits a read longer than the server's limit into sequential requests; stay within it.
    const limit = (sftp as unknown as { _maxReadLen?: number })._maxReadLen
    this.chunk = limit && limit > 0 ? Math.min(READ_CHUNK, limit) : READ_CHUNK
    this.maxDepth = Math.max(1, Math.floor(READ_AHEAD / this.chunk))
    call<Stats>((done) => sftp.fstat(handle, done)).then(
      (stats) => {
        if (Number.isSafeInteger(stats.size) && stats.size >= 0) this.size = stats.size
      },
      // A server without FSTAT: the end is where a read answers EOF.
      () => undefined,
    )
  }

  private request(offset: number, length: number): ReadRequest {
    const buffer = Buffer.allocUnsafe(length)
    const data = call<number>((done) => this.sftp.read(this.handle, buffer, 0, length, offset, done)).then(
      (bytesRead) => buffer.subarray(0, bytesRead),
    )
    // Reads past the end, or still running when the stream is destroyed, are never awaited.
    data.catch(() => undefined)
    return { offset, length, data }
  }

  private fill(): void {
    while (!this.ended && this.queue.length < this.depth) {
      const left = this.size === undefined ? this.chunk : this.size - this.nextOffset
      if (left <= 0) break
      const length = Math.min(this.chunk, left)
      this.queue.push(this.request(this.nextOffset, length))
      this.nextOffset += length
    }
  }

  private finish(): void {
    this.ended = true
    this.queue.length = 0
    this.push(null)
  }

  override _read(): void {
    if (this.size !== undefined && this.start + this.bytes >= this.size) {
      this.finish()
      return
    }
    this.fill()
    const head = this.queue[0]
    if (!head) {
      this.finish()
      return
    }
    this.reading = true
    head.data.then(
      (data) => {
        this.reading = false
        if (this.destroyed || this.queue[0] !== head) return
        this.queue.shift()
        if (data.length === 0) {
          // End of file: whatever was requested beyond it is empty too.
          this.finish()
          return
        }
        const end = head.offset + data.length
        if (data.length < head.length && (this.size === undefined || end < this.size)) {
          // A short read: its remainder comes next, ahead of the reads already issued after it.
          this.queue.unshift(this.request(end, head.length - data.length))
        } else if (this.depth < this.maxDepth) {
          this.depth = Math.min(this.maxDepth, this.depth * 2)
        }
        this.bytes += data.length
        this.push(data)
      },
      (error: unknown) => {
        this.reading = false
        this.destroy(this.onFailure(error))
      },
    )
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.queue.length = 0
    // Not awaited: on a dead channel CLOSE is never answered, and on a live one it is sent
    // before anything else this connection does next.
    call<undefined>((done) =>
      this.sftp.close(this.handle, (closeError) => done(closeError, undefined)),
    ).catch(() => undefined)
    callback(error)
  }
}

export async function readFile<T>(
  sftp: SFTPWrapper,
  control: OperationControl,
  path: string,
  consume: (stream: Readable) => Promise<T>,
  offset = 0,
): Promise<T> {
  const handle = await call<Buffer>((done) => sftp.open(path, 'r', done))
  const stream = new SftpReadStream(
    sftp,
    handle,
    (error) => {
      const failure = sftpError(error)
      control.fail(failure)
      return failure
    },
    offset,
  )
  control.commit()
  control.watch(() => ({ bytes: stream.bytes, waitingOnLocal: !stream.reading }))
  const consumed = consume(stream)
  control.hold(consumed)
  try {
    return await consumed
  } catch (error) {
    throw new CallerFailure(error)
  } finally {
    // A consumer that stopped early leaves the handle open; destroying closes it.
    if (!stream.destroyed) stream.destroy()
  }
}
