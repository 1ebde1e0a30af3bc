/**
 * The real GnuPG (Debian's `gnupg`) for interop tests: a private GNUPGHOME
 * per keyring, batch mode, loopback pinentry. In CI (`CI=true`) .ci/run
 * installs it, so its absence there fails instead of skipping.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as openpgp from 'openpgp'

const run = promisify(execFile)
export const gpgPath = '/usr/bin/gpg'

export function skipUnlessGpg(): string | false {
  if (existsSync(gpgPath)) return false
  if (process.env.CI === 'true') throw new Error(`CI needs ${gpgPath} (.ci/run installs gnupg)`)
  return `${gpgPath} is not installed`
}

export interface GpgKey {
  uid: string
  passphrase: string
  fingerprint: string
  publicKey: string
  privateKey: string
}

export interface Keyring {
  home: string
  gpg(args: string[], options?: { input?: string }): Promise<{ stdout: string; stderr: string }>
  /** A fresh ed25519/cv25519 key, in the keyring; `createdAt` + `expireSeconds` make one already expired. */
  generate(
    name: string,
    options?: { passphrase?: string; createdAt?: Date; expireSeconds?: number },
  ): Promise<GpgKey>
  importKey(armored: string): Promise<void>
  close(): Promise<void>
}

export async function openKeyring(): Promise<Keyring> {
  const home = await mkdtemp(join(tmpdir(), 'gnupg-'))
  const base = ['--homedir', home, '--batch', '--yes', '--no-tty', '--pinentry-mode', 'loopback']
  const gpg: Keyring['gpg'] = async (args, options = {}) => {
    const child = run(gpgPath, [...base, ...args], { maxBuffer: 64 * 1024 * 1024 })
    if (options.input !== undefined) child.child.stdin?.end(options.input)
    return child
  }
  return {
    home,
    gpg,
    async generate(name, options = {}) {
      const email = `${name.toLowerCase().replace(/\W+/g, '-')}@example.test`
      const passphrase = options.passphrase ?? `${name}-passphrase`
      // openpgp makes the key in milliseconds; gpg's own key generation waits on its agent for ~20 s on
      // a busy machine. gpg then holds it like any key it made (imported, secret part included).
      const made = await openpgp.generateKey({
        type: 'ecc',
        userIDs: [{ name, email }],
        passphrase,
        format: 'armored',
        ...(options.createdAt ? { date: options.createdAt } : {}),
        ...(options.expireSeconds ? { keyExpirationTime: options.expireSeconds } : {}),
      })
      await gpg(['--passphrase', passphrase, '--import'], { input: made.privateKey })
      const key = await openpgp.readKey({ armoredKey: made.publicKey })
      return {
        uid: `${name} <${email}>`,
        passphrase,
        fingerprint: key.getFingerprint().toUpperCase(),
        publicKey: made.publicKey,
        privateKey: made.privateKey,
      }
    },
    async importKey(armored) {
      await gpg(['--import'], { input: armored })
    },
    async close() {
      // gpg started an agent for this home; it must not outlive the test.
      await run('/usr/bin/gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined)
      await rm(home, { recursive: true, force: true })
    },
  }
}
