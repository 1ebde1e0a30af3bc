/**
 * SHA-256 of a stream that can be rewound to an earlier byte: a continued
 * upload re-sends from the size the server kept, which may lie before the
 * last byte hashed (bytes in flight when the connection was cut are lost).
 * The digest state is copied every CHECKPOINT_BYTES; rewinding goes back to
 * the last copy at or before the byte asked for, and the caller hashes again
 * from there.
 */
import { createHash, type Hash } from 'node:crypto'

const CHECKPOINT_BYTES = 1024 * 1024
/** Copies kept: the newest 64 MiB can be rewound into, far more than is ever in flight. */
const MAX_CHECKPOINTS = 64

interface Checkpoint {
  offset: number
  state: Hash
}

export class CheckpointedSha256 {
  /** Bytes hashed so far. */
  position = 0
  private hash: Hash = createHash('sha256')
  private checkpoints: Checkpoint[] = [{ offset: 0, state: createHash('sha256') }]

  update(chunk: Buffer): void {
    let rest = chunk
    while (rest.length > 0) {
      const toBoundary = CHECKPOINT_BYTES - (this.position % CHECKPOINT_BYTES)
      const piece = rest.length > toBoundary ? rest.subarray(0, toBoundary) : rest
      this.hash.update(piece)
      this.position += piece.length
      rest = rest.subarray(piece.length)
      if (this.position % CHECKPOINT_BYTES === 0) this.checkpoint()
    }
  }

  private checkpoint(): void {
    this.checkpoints.push({ offset: this.position, state: this.hash.copy() })
    if (this.checkpoints.length > MAX_CHECKPOINTS) this.checkpoints.shift()
  }

  /**
   * Goes back to the last checkpoint at or before `offset`; returns its
   * offset, or null when `offset` is past the bytes hashed or before the
   * oldest checkpoint kept.
   */
  rewind(offset: number): number | null {
    if (offset > this.position) return null
    const index = this.checkpoints.findLastIndex((c) => c.offset <= offset)
    if (index === -1) return null
    const kept = this.checkpoints[index] as Checkpoint
    this.checkpoints = this.checkpoints.slice(0, index + 1)
    this.hash = kept.state.copy()
    this.position = kept.offset
    return kept.offset
  }

  /** Hex digest of the bytes hashed; the object is spent afterwards. */
  digest(): string {
    return this.hash.digest('hex')
  }
}
