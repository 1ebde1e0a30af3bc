/**
 * Reading the configuration's OpenPGP keys: armored text in, usable keys
 * out, or a PGP_KEY_INVALID saying why not (not a key, expired or revoked,
 * a passphrase that does not open it). check-config and the flows read keys
 * the same way, so a key check-config accepts is one a transfer can use.
 */
import type * as openpgp from 'openpgp'
import { BridgeError } from '../../domain/errors.js'
import { loadOpenpgp } from './load.js'

/** `field` names the setting at fault when it is not the key itself (a wrong passphrase). */
function invalid(message: string, cause?: unknown, field: 'passphrase' | 'key' = 'key'): BridgeError {
  return new BridgeError('PGP_KEY_INVALID', message, {
    details: { field },
    ...(cause === undefined ? {} : { cause }),
  })
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The armored text as a key, or why it is not one. Private key blocks are read for their public part. */
async function readAnyKey(armored: string): Promise<openpgp.Key> {
  try {
    return await (await loadOpenpgp()).readKey({ armoredKey: armored })
  } catch (error) {
    throw invalid(`not an OpenPGP key: ${reason(error)}`, error)
  }
}

/** Expired or revoked primary keys are refused here, not at the first transfer. */
async function assertPrimaryValid(key: openpgp.Key, now: Date): Promise<void> {
  try {
    await key.verifyPrimaryKey(now)
  } catch (error) {
    throw invalid(`key ${key.getFingerprint().toUpperCase()} cannot be used: ${reason(error)}`, error)
  }
}

/** A recipient's public key that can encrypt now. */
export async function readEncryptionKey(armored: string, now = new Date()): Promise<openpgp.PublicKey> {
  const key = (await readAnyKey(armored)).toPublic()
  await assertPrimaryValid(key, now)
  try {
    await key.getEncryptionKey(undefined, now)
  } catch (error) {
    throw invalid(
      `key ${key.getFingerprint().toUpperCase()} has no valid encryption key: ${reason(error)}`,
      error,
    )
  }
  return key
}

/** A partner's public key whose signatures are accepted. */
export async function readVerificationKey(armored: string, now = new Date()): Promise<openpgp.PublicKey> {
  const key = (await readAnyKey(armored)).toPublic()
  await assertPrimaryValid(key, now)
  return key
}

/** The bridge's own private key, opened with its passphrase (an unprotected key needs none). */
export async function readPrivateKey(
  armored: string,
  passphrase: string | undefined,
  now = new Date(),
): Promise<openpgp.PrivateKey> {
  let key: openpgp.PrivateKey
  try {
    key = await (await loadOpenpgp()).readPrivateKey({ armoredKey: armored })
  } catch (error) {
    throw invalid(`not an OpenPGP private key: ${reason(error)}`, error)
  }
  await assertPrimaryValid(key, now)
  if (key.isDecrypted()) return key
  if (passphrase === undefined || passphrase === '') {
    throw invalid(
      `private key ${key.getFingerprint().toUpperCase()} is protected and no passphrase is set`,
      undefined,
      'passphrase',
    )
  }
  try {
    return await (await loadOpenpgp()).decryptKey({ privateKey: key, passphrase })
  } catch (error) {
    throw invalid(
      `the passphrase does not open private key ${key.getFingerprint().toUpperCase()}`,
      error,
      'passphrase',
    )
  }
}

/** A signing key that can sign now (checked once, so a transfer does not fail on it). */
export async function readSigningKey(
  armored: string,
  passphrase: string | undefined,
  now = new Date(),
): Promise<openpgp.PrivateKey> {
  const key = await readPrivateKey(armored, passphrase, now)
  try {
    await key.getSigningKey(undefined, now)
  } catch (error) {
    throw invalid(`private key ${key.getFingerprint().toUpperCase()} cannot sign: ${reason(error)}`, error)
  }
  return key
}
