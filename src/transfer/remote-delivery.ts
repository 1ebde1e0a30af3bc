/**
 * Puts one file on a recipient's server so that it is either there whole
 * under its final name or not there at all (where the server can rename):
 * upload under a temporary name, verify the size the server reports, then
 * rename. SHA-256 is computed on the way through.
 *
 * Where the endpoint cannot rename, or atomic writes are switched off, the
 * upload goes straight to the final name: a listing taken during the upload
 * shows the partial file there, and the recipient must not pick files up
 * before a done-marker or manifest says so.
 */
import { randomBytes } from 'node:crypto'
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import { BridgeError } from '../domain/errors.js'
import { assertSafeEntryName, collisionSafeName } from '../domain/file-names.js'
import { MAX_SEGMENT_BYTES, sanitizeRemoteSegment, truncateUtf8 } from '../domain/remote-names.js'
import type { RemoteFiles, RemoteOpOptions } from '../ports/remote-files.js'
import { type ByteStage, composeBytePath } from './byte-pipeline.js'
import { encryptedOutboundByteStages, outboundByteStages } from './byte-stages.js'
import type { HashingResult } from './hashing-stream.js'
import type { EncryptionResult } from './pgp/encrypt-stage.js'
import { writeResumably } from './resumable-write.js'
import type { TransferTally } from './resume-support.js'

export type ExistingFilePolicy = 'overwrite' | 'rename' | 'skip' | 'fail'

export interface WriteSettings {
  /** Upload under a temporary name and rename; needs `supportsRename`. */
  atomic: boolean
  /** Ends the temporary name, so recipients' pollers can ignore it (".part"). */
  tempSuffix: string
  /** The endpoint's flag: false for servers that cannot rename. */
  supportsRename: boolean
  signal?: AbortSignal | undefined
  /** Encrypts the bytes on the way (PGP): what arrives is then larger than `size`, known only at the end. */
  encryption?: ByteStage<'pgp', EncryptionResult> | undefined
}

export interface DeliveryRequest extends WriteSettings {
  /** Absolute directory; created when missing. */
  directory: string
  /** One path segment, already sanitised. */
  fileName: string
  /** Read at most once; destroyed when the delivery does not need it or fails. */
  source: Readable
  /** Bytes the source will yield; the upload and the remote copy are checked against it. */
  size: number
  existing: ExistingFilePolicy
  /** Makes collision-safe names and temporary names distinct per job (e.g. the job id). */
  tag: string
  /**
   * Directories made (or being made) for earlier files of the same round,
   * shared by its deliveries: one mkdirp per directory, not per file. A
   * failed delivery forgets its directory, so the next round makes it again.
   */
  directories?: Map<string, Promise<void>>
  /**
   * Opens the source again from a byte offset. With it, and an endpoint whose
   * resume policy is enabled, an upload cut mid-file continues from the size
   * on the server instead of starting again. Only for a byte path that
   * leaves the bytes as they are: the offset on the server is an offset in
   * the source.
   */
  reopen?: ((offset: number) => Promise<Readable>) | undefined
  /** Bytes written over the wire (re-sent ones included) and continuations are added here. */
  tally?: TransferTally | undefined
}

type UploadSettings = WriteSettings & Pick<DeliveryRequest, 'reopen' | 'tally'>

export interface DeliveryResult {
  outcome: 'delivered' | 'skipped'
  /** Where the file is now; for `skipped`, the file that was already there. */
  path: string
  /** Bytes uploaded by this call (0 when skipped). */
  bytes: number
  /** Hex SHA-256 of the uploaded bytes ('' when skipped: nothing was read). */
  sha256: string
  /** Hex SHA-256 of the source's bytes: `sha256` unless the bytes were encrypted on the way. */
  plaintextSha256: string
}

/** How often a `rename` policy picks another name when its choice was taken during the upload. */
const RENAME_ATTEMPTS = 5

export async function deliverFile(remote: RemoteFiles, request: DeliveryRequest): Promise<DeliveryResult> {
  const { directory, fileName, source, existing, tag } = request
  const opts = request.signal ? { signal: request.signal } : {}
  try {
    assertSafeEntryName(fileName)
    await ensureDirectory(remote, directory, request.directories, opts)
    let finalName = fileName
    // One stat, not a listing of a folder that grows with every delivery; the listing only on a
    // collision. Under `overwrite` a file already there changes nothing, so there is no stat at all.
    const taken =
      existing !== 'overwrite' &&
      (await remote.stat(posix.join(directory, fileName), { ...opts, modifiedAt: false })) !== null
    if (taken) {
      switch (existing) {
        case 'skip':
          source.destroy()
          return skippedAt(posix.join(directory, fileName))
        case 'fail':
          throw new BridgeError('FILE_EXISTS', `${posix.join(directory, fileName)} already exists`, {
            details: { path: posix.join(directory, fileName) },
          })
        case 'rename':
          finalName = collisionSafeName(fileName, await namesIn(remote, directory, request), tag)
          break
      }
    }
    const written = await upload(remote, directory, finalName, source, request.size, request, tag)
    if (!written.temporary) return delivered(written.path, written)

    for (let attempt = 1; ; attempt++) {
      const finalPath = posix.join(directory, finalName)
      try {
        await remote.rename(written.path, finalPath, { ...opts, overwrite: existing === 'overwrite' })
        return delivered(finalPath, written)
      } catch (error) {
        // The name was free when listed and someone took it during the upload.
        const raced = error instanceof BridgeError && error.code === 'FILE_EXISTS'
        if (raced && existing === 'skip') {
          await removeQuietly(remote, written.path)
          return skippedAt(finalPath)
        }
        if (raced && existing === 'rename' && attempt < RENAME_ATTEMPTS) {
          const now = await namesIn(remote, directory, request).catch(() => undefined)
          if (now) {
            finalName = collisionSafeName(fileName, now, tag)
            continue
          }
        }
        if (!raced && (await renamedAfterAll(remote, written.path, finalPath, written.bytes))) {
          return delivered(finalPath, written)
        }
        await removeQuietly(remote, written.path)
        throw error
      }
    }
  } catch (error) {
    // The caller retries with a fresh source; this one must not keep a download open.
    source.destroy()
    // The directory may be what failed (removed since it was made): the retry makes it again.
    request.directories?.delete(directory)
    throw error
  }
}

function ensureDirectory(
  remote: RemoteFiles,
  directory: string,
  made: Map<string, Promise<void>> | undefined,
  opts: RemoteOpOptions,
): Promise<void> {
  if (!made) return remote.mkdirp(directory, opts)
  let making = made.get(directory)
  if (!making) {
    making = remote.mkdirp(directory, opts)
    made.set(directory, making)
    making.catch(() => made.delete(directory))
  }
  return making
}

/**
 * Writes a small text file (manifest, done-marker) the same way, replacing
 * whatever is there: a re-run of the job rewrites its own manifest.
 */
export async function writeTextFile(
  remote: RemoteFiles,
  path: string,
  text: string,
  settings: WriteSettings,
): Promise<{ path: string; bytes: number; sha256: string }> {
  const body = Buffer.from(text, 'utf8')
  const result = await deliverFile(remote, {
    ...settings,
    directory: posix.dirname(path),
    fileName: posix.basename(path),
    source: bufferSource(body),
    size: body.length,
    existing: 'overwrite',
    tag: 'text',
  })
  return { path: result.path, bytes: result.bytes, sha256: result.sha256 }
}

interface Written {
  path: string
  temporary: boolean
  bytes: number
  sha256: string
  plaintextSha256: string
}

function delivered(path: string, written: Written): DeliveryResult {
  const { bytes, sha256, plaintextSha256 } = written
  return { outcome: 'delivered', path, bytes, sha256, plaintextSha256 }
}

function skippedAt(path: string): DeliveryResult {
  return { outcome: 'skipped', path, bytes: 0, sha256: '', plaintextSha256: '' }
}

async function namesIn(remote: RemoteFiles, directory: string, request: WriteSettings): Promise<Set<string>> {
  const opts = request.signal ? { signal: request.signal } : {}
  return new Set((await remote.list(directory, opts)).map((entry) => entry.name))
}

/**
 * Uploads through the outbound byte path and checks the size the server reports.
 * Whatever is left behind by a failure (a partial temporary file, or a
 * partial file under the final name when writing directly) is removed.
 */
async function upload(
  remote: RemoteFiles,
  directory: string,
  finalName: string,
  source: Readable,
  size: number,
  settings: UploadSettings,
  tag: string,
): Promise<Written> {
  const temporary = settings.atomic && settings.supportsRename
  const path = posix.join(
    directory,
    temporary ? temporaryName(finalName, settings.tempSuffix, tag) : finalName,
  )
  const opts = settings.signal ? { signal: settings.signal } : {}
  const { reopen, tally } = settings
  if (reopen && tally && remote.resume?.enabled && !settings.encryption) {
    return uploadResumably(
      remote,
      { path, temporary, source, size },
      { reopen, tally, signal: settings.signal },
      opts,
    )
  }
  const stages = settings.encryption
    ? encryptedOutboundByteStages(size, settings.encryption)
    : outboundByteStages(size)
  const bytePath = composeBytePath({ source, stages, signal: settings.signal })
  try {
    const { bytes } = await remote.write(path, bytePath.stream, opts)
    if (tally) tally.bytesMoved += bytes
    const entry = await remote.stat(path, { ...opts, modifiedAt: false })
    // Encrypted, the path's own count of what left it is the size to expect; it is checked once the path ended.
    const expected = settings.encryption ? entry?.size : size
    if (bytes !== expected || entry?.size !== bytes) {
      throw new BridgeError(
        'SIZE_MISMATCH',
        `${path}: expected ${expected} bytes, sent ${bytes}, the server reports ${entry?.size ?? 'no file'}`,
        { transient: true, details: { path, expected, sent: bytes, remote: entry?.size ?? null } },
      )
    }
    // The server took every byte, so the path has run to its end: only now are the digests whole.
    await bytePath.done
    const results = bytePath.results() as Record<string, HashingResult | undefined>
    const delivered = results.hashing as HashingResult
    if (delivered.bytes !== bytes) {
      throw new BridgeError(
        'SIZE_MISMATCH',
        `${path}: the byte path sent ${delivered.bytes} bytes, the server took ${bytes}`,
        {
          transient: true,
        },
      )
    }
    const sha256 = delivered.sha256
    return { path, temporary, bytes, sha256, plaintextSha256: results.plaintext?.sha256 ?? sha256 }
  } catch (error) {
    bytePath.stream.destroy()
    await removeQuietly(remote, path)
    throw error
  }
}

/**
 * The write continued from the size on the server after a cut (plain bytes only: an encrypted
 * file's bytes are not S3's bytes at the same offsets, so it restarts from zero instead).
 */
async function uploadResumably(
  remote: RemoteFiles,
  target: { path: string; temporary: boolean; source: Readable; size: number },
  settings: {
    reopen: (offset: number) => Promise<Readable>
    tally: TransferTally
    signal?: AbortSignal | undefined
  },
  opts: RemoteOpOptions,
): Promise<Written> {
  const { path, temporary, source, size } = target
  try {
    const { bytes, sha256 } = await writeResumably(remote, {
      path,
      source,
      size,
      reopen: settings.reopen,
      signal: settings.signal,
      tally: settings.tally,
    })
    await checkRemoteSize(remote, path, size, bytes, opts)
    return { path, temporary, bytes, sha256, plaintextSha256: sha256 }
  } catch (error) {
    source.destroy()
    await removeQuietly(remote, path)
    throw error
  }
}

/** SIZE_MISMATCH unless every byte was sent and the server reports the file whole. */
async function checkRemoteSize(
  remote: RemoteFiles,
  path: string,
  size: number,
  bytes: number,
  opts: RemoteOpOptions,
): Promise<void> {
  const entry = await remote.stat(path, { ...opts, modifiedAt: false })
  if (bytes !== size || entry?.size !== size) {
    throw new BridgeError(
      'SIZE_MISMATCH',
      `${path}: expected ${size} bytes, sent ${bytes}, the server reports ${entry?.size ?? 'no file'}`,
      { transient: true, details: { path, expected: size, sent: bytes, remote: entry?.size ?? null } },
    )
  }
}

/**
 * `<final>.<tag>-<random><suffix>`: one per attempt, so an attempt still
 * running on a dead connection never writes into its successor's file; the
 * suffix stays last for pollers that skip it; the whole fits 255 bytes.
 */
function temporaryName(finalName: string, tempSuffix: string, tag: string): string {
  if (tempSuffix !== '' && sanitizeRemoteSegment(tempSuffix) !== tempSuffix) {
    throw new BridgeError(
      'VALIDATION_FAILED',
      `tempSuffix ${JSON.stringify(tempSuffix)} is not a safe name part`,
    )
  }
  const marker = `.${truncateUtf8(sanitizeRemoteSegment(tag), 64)}-${randomBytes(4).toString('hex')}${tempSuffix}`
  const room = MAX_SEGMENT_BYTES - Buffer.byteLength(marker)
  if (room < 1)
    throw new BridgeError('VALIDATION_FAILED', `tempSuffix ${JSON.stringify(tempSuffix)} is too long`)
  return `${truncateUtf8(finalName, room)}${marker}`
}

/**
 * A rename whose reply was lost with the connection may have happened. If the
 * temporary is gone and the final name holds a file of the right size, it
 * did: reporting a failure would make the retry deliver a second copy (or,
 * under `fail`, refuse its own file). Any doubt counts as "not renamed".
 */
async function renamedAfterAll(remote: RemoteFiles, temporary: string, finalPath: string, size: number) {
  try {
    return (await remote.stat(temporary)) === null && (await remote.stat(finalPath))?.size === size
  } catch {
    return false
  }
}

/**
 * Best effort, and deliberately without the caller's signal: after a
 * cancellation the partial file should still go. The adapter's own deadline
 * bounds it.
 */
async function removeQuietly(remote: RemoteFiles, path: string): Promise<void> {
  await remote.delete(path).catch(() => undefined)
}

function bufferSource(body: Buffer): Readable {
  return Readable.from(body.length === 0 ? [] : [body])
}
