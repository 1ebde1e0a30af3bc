/**
 * Outbound encryption (and signing) as a stage of the byte path: plaintext
 * in, OpenPGP message out, streamed. Keys are read once per flow
 * (`openOutboundPgp`), not per file.
 */
import { Duplex, PassThrough } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type * as openpgp from 'openpgp'
import type { ByteStage } from '../byte-pipeline.js'
import { readEncryptionKey, readSigningKey } from './keys.js'
import { loadOpenpgp } from './load.js'
import { nodeToWeb, webToNode } from './web-streams.js'

export interface OutboundPgpSettings {
  encryptTo: readonly string[]
  sign?: { privateKey: string; passphrase?: string | undefined } | undefined
  armor: boolean
}

export interface OutboundPgpKeys {
  readonly encryptionKeys: openpgp.PublicKey[]
  readonly signingKey: openpgp.PrivateKey | undefined
  readonly armor: boolean
}

export async function openOutboundPgp(settings: OutboundPgpSettings): Promise<OutboundPgpKeys> {
  const encryptionKeys = await Promise.all(settings.encryptTo.map((armored) => readEncryptionKey(armored)))
  const signingKey = settings.sign
    ? await readSigningKey(settings.sign.privateKey, settings.sign.passphrase)
    : undefined
  return { encryptionKeys, signingKey, armor: settings.armor }
}

export interface EncryptionResult {
  /** Plaintext bytes that went in. */
  bytes: number
}

/** Encrypts to every key of `keys` and signs with its signing key, if any. */
export function encryptionStage(keys: OutboundPgpKeys): ByteStage<'pgp', EncryptionResult> {
  return {
    name: 'pgp',
    open() {
      const input = new PassThrough()
      const output = new PassThrough()
      let bytes = 0
      const plaintext = nodeToWeb(input, (n) => {
        bytes += n
      })
      const encrypting = (async () => {
        const message = await (await loadOpenpgp()).createMessage({ binary: plaintext, format: 'binary' })
        const options = {
          message,
          encryptionKeys: keys.encryptionKeys,
          ...(keys.signingKey ? { signingKeys: keys.signingKey } : {}),
        }
        const encrypted = keys.armor
          ? await (await loadOpenpgp()).encrypt({ ...options, format: 'armored' })
          : await (await loadOpenpgp()).encrypt({ ...options, format: 'binary' })
        await pipeline(webToNode(encrypted as ReadableStream<Uint8Array | string>), output)
      })()
      const transform = Duplex.from({ writable: input, readable: output })
      encrypting.catch((error: unknown) => transform.destroy(error as Error))
      return { transform, result: () => ({ bytes }) }
    },
  }
}
