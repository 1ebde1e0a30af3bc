/**
 * check-config for PGP keys: each key is read the way a transfer reads it
 * (src/transfer/pgp/keys.ts), so a public key that is not one, an expired or
 * revoked key, or a passphrase that does not open its private key is
 * reported by key path before any file moves. Asynchronous (opening a
 * private key is), so it runs in loadConfig after the synchronous checks.
 * Messages name keys by fingerprint only, never by their text.
 */
import { BridgeError } from '../domain/errors.js'
import {
  readEncryptionKey,
  readPrivateKey,
  readSigningKey,
  readVerificationKey,
} from '../transfer/pgp/keys.js'
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'

export async function checkPgpKeys(config: unknown, now = new Date()): Promise<ConfigIssue[]> {
  if (!isPlainObject(config) || !Array.isArray(config.flows)) return []
  const checks: Promise<ConfigIssue | null>[] = []
  config.flows.forEach((flow, i) => {
    if (!isPlainObject(flow) || !isPlainObject(flow.pgp)) return
    const pgp = flow.pgp
    const path: KeyPath = ['flows', i, 'pgp']
    strings(pgp.encryptTo).forEach(([key, j]) => {
      checks.push(check([...path, 'encryptTo', j], () => readEncryptionKey(key, now)))
    })
    strings(pgp.requireSignatureFrom).forEach(([key, j]) => {
      checks.push(check([...path, 'requireSignatureFrom', j], () => readVerificationKey(key, now)))
    })
    for (const [name, read] of [
      ['sign', readSigningKey],
      ['decrypt', readPrivateKey],
    ] as const) {
      const section = pgp[name]
      if (!isPlainObject(section) || typeof section.privateKey !== 'string') continue
      const passphrase = typeof section.passphrase === 'string' ? section.passphrase : undefined
      checks.push(check([...path, name], () => read(section.privateKey as string, passphrase, now), true))
    }
  })
  return (await Promise.all(checks)).filter((found): found is ConfigIssue => found !== null)
}

function strings(value: unknown): [string, number][] {
  if (!Array.isArray(value)) return []
  return value.flatMap((v, j) => (typeof v === 'string' ? [[v, j] as [string, number]] : []))
}

/** A private key's section is reported at its privateKey, or at its passphrase when that is what is wrong. */
async function check(
  path: KeyPath,
  read: () => Promise<unknown>,
  privateSection = false,
): Promise<ConfigIssue | null> {
  try {
    await read()
    return null
  } catch (error) {
    if (!(error instanceof BridgeError)) throw error
    const field = error.details?.field === 'passphrase' ? 'passphrase' : 'privateKey'
    return issue(privateSection ? [...path, field] : path, error.message)
  }
}
