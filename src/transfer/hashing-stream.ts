import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { BridgeError } from '../domain/errors.js'
import type { ByteStage } from './byte-pipeline.js'

export interface HashingOptions {
  /**
   * Also compute MD5, S3's ETag of a single-part upload. Only uploads to S3
   * need it, and it costs more than twice the CPU of SHA-256 (643 against
   * 1,445 MiB/s on a core with SHA extensions): off unless asked for.
   */
  md5?: boolean
}

/**
 * Passes bytes through while counting them and computing SHA-256 (and MD5
 * when asked). With `expectedSize`, a file that grows or shrinks under us
 * fails the stream with FILE_CHANGED instead of sending a body that disagrees
 * with its Content-Length.
 */
export class HashingStream extends Transform {
  bytes = 0
  private readonly sha256: Hash = createHash('sha256')
  private readonly md5: Hash | undefined
  private readonly expectedSize: number | undefined
  private readonly onProgress: ((bytes: number) => void) | undefined

  constructor(expectedSize?: number, onProgress?: (bytes: number) => void, options: HashingOptions = {}) {
    super()
    this.expectedSize = expectedSize
    this.onProgress = onProgress
    this.md5 = options.md5 ? createHash('md5') : undefined
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      callback(this.changed())
      return
    }
    this.sha256.update(chunk)
    this.md5?.update(chunk)
    this.onProgress?.(this.bytes)
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) callback(this.changed())
    else callback()
  }

  private changed(): BridgeError {
    return new BridgeError(
      'FILE_CHANGED',
      `file size changed while reading: listed ${this.expectedSize} bytes, read ${this.bytes}`,
      { transient: true },
    )
  }

  /** Hex digests; md5 is null unless the stream was created with `md5: true`. */
  digests(): { sha256: string; md5: string | null } {
    return { sha256: this.sha256.digest('hex'), md5: this.md5?.digest('hex') ?? null }
  }
}

export interface HashingStageOptions extends HashingOptions {
  /** Bytes the stage must see; more or fewer fail the path with FILE_CHANGED. */
  expectedSize?: number
  /** Called with the bytes seen so far, chunk by chunk. */
  onProgress?: (bytes: number) => void
}

export interface HashingResult {
  bytes: number
  sha256: string
  /** Null unless the stage was made with `md5: true`. */
  md5: string | null
}

/** HashingStream as a stage of the byte path: it counts, checks and hashes the bytes at its position. */
export function hashingStage(options: HashingStageOptions = {}): ByteStage<'hashing', HashingResult> {
  return {
    name: 'hashing',
    open() {
      const hashing = new HashingStream(options.expectedSize, options.onProgress, { md5: options.md5 })
      return { transform: hashing, result: () => ({ bytes: hashing.bytes, ...hashing.digests() }) }
    },
  }
}
