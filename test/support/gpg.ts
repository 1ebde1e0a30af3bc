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
  /** A fresh ed25519/cv25519 key; `fakedTime` + `expire` make one already expired. */
  generate(
    name: string,
    options?: { passphrase?: string; expire?: string; fakedTime?: string },
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
      const uid = `${name} <${name.toLowerCase().replace(/\W+/g, '-')}@example.test>`
      const passphrase = options.passphrase ?? `${name}-passphrase`
      const time = options.fakedTime ? ['--faked-system-time', options.fakedTime] : []
      await gpg([
        ...time,
        '--passphrase',
        passphrase,
        '--quick-gen-key',
        uid,
        'future-default',
        'default',
        options.expire ?? 'never',
      ])
      const listed = await gpg(['--with-colons', '--list-keys', uid])
      const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(listed.stdout)?.[1] as string
      const publicKey = (await gpg(['--armor', '--export', fingerprint])).stdout
      const privateKey = (
        await gpg(['--passphrase', passphrase, '--armor', '--export-secret-keys', fingerprint])
      ).stdout
      return { uid, passphrase, fingerprint, publicKey, privateKey }
    },
    async importKey(armored) {
      await gpg(['--import'], { input: armored })
    },
    close: () => rm(home, { recursive: true, force: true }),
  }
}
