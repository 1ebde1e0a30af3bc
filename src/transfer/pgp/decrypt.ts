/**
 * Inbound decryption: an OpenPGP message (binary or armored) in, plaintext
 * out, with the signature checked against the flow's partner keys.
 *
 * A signature (and, for messages without AEAD, the integrity check) is only
 * known once the last byte went through, so the plaintext must not be handed
 * on as final before then: `decryptMessage` writes it to a sink and resolves
 * only after both checks passed; the caller keeps the plaintext private until
 * then (inbound: a temporary file, uploaded only after this resolved).
 */
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type * as openpgp from 'openpgp'
import { BridgeError } from '../../domain/errors.js'
import { readPrivateKey, readVerificationKey } from './keys.js'
import { loadOpenpgp } from './load.js'
import { nodeToWeb, webToNode, withHead } from './web-streams.js'

export interface InboundPgpSettings {
  decrypt: { privateKey: string; passphrase?: string | undefined }
  requireSignatureFrom?: readonly string[] | undefined
}

export interface InboundPgpKeys {
  readonly decryptionKey: openpgp.PrivateKey
  /** Empty: signatures are not required (nor checked). */
  readonly verificationKeys: openpgp.PublicKey[]
}

export async function openInboundPgp(settings: InboundPgpSettings): Promise<InboundPgpKeys> {
  const decryptionKey = await readPrivateKey(settings.decrypt.privateKey, settings.decrypt.passphrase)
  const verificationKeys = await Promise.all(
    (settings.requireSignatureFrom ?? []).map((armored) => readVerificationKey(armored)),
  )
  return { decryptionKey, verificationKeys }
}

export interface DecryptionResult {
  /** Plaintext bytes written to the sink. */
  bytes: number
  /** Fingerprint of the listed key whose signature verified; null when none was required. */
  signedBy: string | null
}

/** The suffixes an encrypted file's name ends with; the S-Drive copy is named without it. */
export const PGP_SUFFIXES = ['.pgp', '.gpg', '.asc'] as const

export function withoutPgpSuffix(name: string): string {
  const lower = name.toLowerCase()
  const suffix = PGP_SUFFIXES.find((s) => lower.endsWith(s) && name.length > s.length)
  return suffix ? name.slice(0, -suffix.length) : name
}

function decryptFailed(error: unknown): BridgeError {
  const message = error instanceof Error ? error.message : String(error)
  return new BridgeError('PGP_DECRYPT_FAILED', `the file does not decrypt: ${message}`, { cause: error })
}

function signatureInvalid(message: string, cause?: unknown): BridgeError {
  return new BridgeError('PGP_SIGNATURE_INVALID', message, cause === undefined ? {} : { cause })
}

/**
 * Decrypts `source` into `sink`. Rejects with PGP_DECRYPT_FAILED (not a
 * message, not for our key, damaged), PGP_SIGNATURE_INVALID (unsigned or not
 * signed by a listed key, when keys are listed), or the source's own error
 * (a dropped connection stays what it is, and is retried).
 */
export async function decryptMessage(
  keys: InboundPgpKeys,
  source: Readable,
  sink: Writable,
): Promise<DecryptionResult> {
  let sourceError: unknown
  source.once('error', (error) => {
    sourceError = error
  })
  let bytes = 0
  try {
    const { head, stream } = await withHead(source)
    const web = nodeToWeb(stream)
    // ASCII armor starts with text; a binary packet's first byte has its high bit set.
    const armored = head.length > 0 && (head[0] as number) < 0x80
    const message = armored
      ? await (await loadOpenpgp()).readMessage({ armoredMessage: asText(web) })
      : await (await loadOpenpgp()).readMessage({ binaryMessage: web })
    const requireSigned = keys.verificationKeys.length > 0
    const decrypted = await (await loadOpenpgp()).decrypt({
      message,
      decryptionKeys: keys.decryptionKey,
      ...(requireSigned ? { verificationKeys: keys.verificationKeys, expectSigned: true } : {}),
      format: 'binary',
      // Without it openpgp holds a whole non-AEAD message in memory to check it before releasing a byte.
      // The plaintext goes to a private sink and is only used after the check at the end passed.
      config: { allowUnauthenticatedStream: true },
    })
    const plaintext = webToNode(decrypted.data as unknown as ReadableStream<Uint8Array>)
    plaintext.on('data', (chunk: Buffer) => {
      bytes += chunk.length
    })
    await pipeline(plaintext, sink)
    const signedBy = requireSigned ? await verifiedSigner(decrypted.signatures, keys.verificationKeys) : null
    return { bytes, signedBy }
  } catch (error) {
    source.destroy()
    if (sourceError !== undefined) throw sourceError
    if (error instanceof BridgeError) throw error
    if (isSignatureFailure(error)) {
      throw signatureInvalid(
        `the file's signature is missing or not from a listed key: ${messageOf(error)}`,
        error,
      )
    }
    throw decryptFailed(error)
  }
}

async function verifiedSigner(
  signatures: Awaited<ReturnType<typeof openpgp.decrypt>>['signatures'],
  listed: openpgp.PublicKey[],
): Promise<string> {
  if (signatures.length === 0) throw signatureInvalid('the file is not signed')
  for (const signature of signatures) {
    try {
      await signature.verified
    } catch {
      continue
    }
    const signer = listed.find((key) => key.getKeyIDs().some((id) => id.equals(signature.keyID)))
    if (signer) return signer.getFingerprint().toUpperCase()
  }
  throw signatureInvalid(
    `the file is signed by ${signatures.map((s) => s.keyID.toHex().toUpperCase()).join(', ')}, none of them a listed key with a valid signature`,
  )
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** openpgp reports these through plain Errors; their messages are all there is to tell them apart. */
function isSignatureFailure(error: unknown): boolean {
  return /signature|signed|signing key/i.test(messageOf(error))
}

function asText(web: ReadableStream<Uint8Array>): ReadableStream<string> {
  return web.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
}
