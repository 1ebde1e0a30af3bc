/**
 * The stage list of each direction: the one place a transform of the bytes
 * (decrypt, encrypt) is added. A stage sees the bytes as the stages before it
 * left them, so where the hashing stage sits decides what its digests and its
 * size check are of; both directions keep it last, hashing what leaves the
 * bridge.
 */
import type { ByteStage, ByteStages } from './byte-pipeline.js'
import { type HashingResult, hashingStage } from './hashing-stream.js'
import type { EncryptionResult } from './pgp/encrypt-stage.js'

export interface InboundStageOptions {
  /** The size listed on the remote server, which is also the S3 upload's declared length. */
  size: number
  onProgress: (bytes: number) => void
}

/**
 * Remote file → S3. Hashing stays last: its MD5 is checked against S3's ETag
 * and its SHA-256 is recorded for the file in S-Drive, so it must see exactly
 * the bytes uploaded.
 */
export function inboundByteStages(
  options: InboundStageOptions,
): readonly [ByteStage<'hashing', HashingResult>] {
  return [hashingStage({ expectedSize: options.size, onProgress: options.onProgress, md5: true })]
}

/**
 * S-Drive → recipient's server. Hashing stays last: its SHA-256 is that of
 * the file delivered, and its size check is against the size the remote copy
 * is compared with.
 */
export function outboundByteStages(size: number): readonly [ByteStage<'hashing', HashingResult>] {
  return [hashingStage({ expectedSize: size })]
}

/**
 * S-Drive → encryption → recipient's server. The first hashing stage
 * ('plaintext') sees what S-Drive holds and checks its size; the last
 * ('hashing') sees what is delivered, whose size is only known at the end.
 */
export function encryptedOutboundByteStages(
  size: number,
  encryption: ByteStage<'pgp', EncryptionResult>,
): ByteStages {
  return [{ ...hashingStage({ expectedSize: size }), name: 'plaintext' }, encryption, hashingStage()]
}
