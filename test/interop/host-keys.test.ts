/**
 * Host key rotation and SSH algorithms against the real OpenSSH sshd:
 * with [old, new] pinned, sshd restarted on the same port with the new key
 * keeps serving the same adapter instance (no restart of the bridge); the
 * check names the pin that matched and warns about a key the server
 * announces that nobody pinned; a key that is not pinned is refused with
 * HOST_KEY_MISMATCH; and an endpoint configured for old algorithms
 * connects to an sshd that offers nothing else, which the defaults cannot.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pino } from 'pino'
import ssh2 from 'ssh2'
import t, { type Test } from 'tap'
import { checkEndpoint } from '../../src/adapters/remote/check.js'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import type { RemoteFiles } from '../../src/ports/remote-files.js'
import { generateSshKeyPair } from '../../src/sandbox/sftp-server.js'
import { skipUnlessDaemon, sshdPath } from '../support/daemons.js'
import {
  ensureTestUser,
  hostKeyFingerprint,
  localAccount,
  type RunningSshd,
  type SshdOptions,
  startSshd,
} from '../support/real-server-configs.js'
import { endpointConfig, failureCode } from '../support/remote-files-contract.js'

t.setTimeout(180_000)

const skip = skipUnlessDaemon(sshdPath)
const silent = pino({ level: 'silent' })
const account = localAccount('sdrivebridgehostkey')
const UNUSED_CLIENT_KEY = generateSshKeyPair().public

t.test('host key rotation and SSH algorithms with OpenSSH sshd', { skip }, async (t) => {
  ensureTestUser(account)
  const root = await mkdtemp(join(homedir(), 'hostkey-sshd-'))
  await chmod(root, 0o755)
  await mkdir(join(root, 'inbox'), { mode: 0o777 })
  await chmod(join(root, 'inbox'), 0o777)
  let daemon: RunningSshd | undefined
  const remotes: RemoteFiles[] = []
  t.teardown(async () => {
    for (const remote of remotes) await remote.close()
    await daemon?.close()
    await rm(root, { recursive: true, force: true })
  })
  const sshd = async (options: Partial<SshdOptions>) => {
    await daemon?.close()
    daemon = await startSshd({
      root,
      user: account.name,
      authorizedKey: UNUSED_CLIENT_KEY,
      passwordAuthentication: true,
      ...options,
    })
    return daemon
  }
  const endpoint = (server: RunningSshd, fields: Partial<EndpointConfig>): EndpointConfig =>
    endpointConfig({
      name: 'partner-sftp',
      protocol: 'sftp',
      host: server.host,
      port: server.port,
      username: account.name,
      password: account.password,
      connectTimeoutMs: 20_000,
      operationTimeoutMs: 30_000,
      ...fields,
    })
  const remoteFor = (config: EndpointConfig) => {
    const remote = createRemoteFiles(config, silent)
    remotes.push(remote)
    return remote
  }

  const oldKey = generateSshKeyPair().private
  const newKey = generateSshKeyPair().private
  const oldPin = hostKeyFingerprint(oldKey)
  const newPin = hostKeyFingerprint(newKey)

  await t.test('pinned [old, new]: the rotation to the new key needs no restart', async (t) => {
    const first = await sshd({ hostKeys: [oldKey] })
    const config = endpoint(first, { hostKeySha256: [oldPin, newPin] })
    const remote = remoteFor(config)
    await roundTrip(t, remote, '/inbox/before-rotation.bin')
    const before = await checkEndpoint(config, ['/inbox'], silent)
    t.ok(before.ok, 'the check passes with the old key')
    t.equal(before.hostKey?.matchedPin, oldPin, 'and says the old pin matched')
    t.same(before.hostKey?.pins, [oldPin, newPin])
    t.match(before.warnings.join('\n'), /matched pin 1 of 2/, 'and that the pins list is still a rotation')

    // The partner restarts its server with the new key on the same port; the bridge stays up.
    const second = await sshd({ hostKeys: [newKey], port: first.port })
    t.equal(second.port, first.port)
    await roundTrip(t, remote, '/inbox/after-rotation.bin')
    const after = await checkEndpoint(config, ['/inbox'], silent)
    t.ok(after.ok, 'the check passes with the new key')
    t.equal(after.hostKey?.matchedPin, newPin, 'and says the new pin matched')
  })

  await t.test('a key that is not pinned is refused, by the adapter and the check', async (t) => {
    const server = await sshd({ hostKeys: [newKey] })
    const config = endpoint(server, { hostKeySha256: [oldPin] })
    t.equal(await failureCode(remoteFor(config).list('/inbox')), 'HOST_KEY_MISMATCH')
    const report = await checkEndpoint(config, ['/inbox'], silent)
    t.equal(report.error?.code, 'HOST_KEY_MISMATCH')
    t.equal(report.hostKey?.fingerprint, newPin, 'the check shows the key presented')
    t.equal(report.hostKey?.matchedPin, null)
    t.notOk(report.authenticated, 'no credentials went to the unknown server')
  })

  await t.test('the check warns about an announced key that is not pinned', async (t) => {
    const ecdsa = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).private
    const server = await sshd({ hostKeys: [newKey, ecdsa] })
    const report = await checkEndpoint(endpoint(server, { hostKeySha256: newPin }), ['/inbox'], silent)
    t.ok(report.ok, 'the pinned ed25519 key is accepted')
    const ecdsaPin = hostKeyFingerprint(ecdsa)
    t.same(
      report.hostKey?.announced.map((key) => [key.fingerprint, key.pinned]).sort(),
      [
        [newPin, true],
        [ecdsaPin, false],
      ].sort(),
      'both announced keys are listed, with whether they are pinned',
    )
    t.ok(
      report.warnings.some((warning) => warning.includes(ecdsaPin) && /not pinned/.test(warning)),
      'a warning names the unpinned key',
    )
  })

  await t.test('old algorithms, configured per endpoint, reach an sshd offering only those', async (t) => {
    const rsa = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).private
    const server = await sshd({
      hostKeys: [rsa],
      extra: [
        'KexAlgorithms diffie-hellman-group14-sha1',
        'Ciphers aes128-cbc',
        'MACs hmac-sha1',
        'HostKeyAlgorithms ssh-rsa',
        'PubkeyAcceptedAlgorithms +ssh-rsa',
      ],
    })
    const pin = hostKeyFingerprint(rsa)
    const modern = await failureCode(remoteFor(endpoint(server, { hostKeySha256: pin })).list('/inbox'))
    t.not(modern, 'resolved', `the modern defaults cannot agree with it (${modern})`)
    const old = endpoint(server, {
      hostKeySha256: pin,
      algorithms: {
        kex: ['diffie-hellman-group14-sha1'],
        cipher: ['aes128-cbc'],
        hmac: ['hmac-sha1'],
        serverHostKey: ['ssh-rsa'],
      },
    })
    await roundTrip(t, remoteFor(old), '/inbox/old-algorithms.bin')
    const report = await checkEndpoint(old, ['/inbox'], silent)
    t.ok(report.ok, 'the check passes too')
    t.equal(report.hostKey?.algorithm, 'ssh-rsa', 'with the host key algorithm configured')
  })
})

async function roundTrip(t: Test, remote: RemoteFiles, path: string): Promise<void> {
  const bytes = randomBytes(256 * 1024 + 3)
  const written = await remote.write(path, Readable.from([bytes]))
  t.equal(written.bytes, bytes.length, `${path} written`)
  const back = await remote.read(path, async (stream) => {
    const chunks: Buffer[] = []
    for await (const chunk of stream) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  })
  t.equal(sha256(back), sha256(bytes), `${path} read back whole`)
  await remote.delete(path)
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
