/**
 * `npm run bench:pgp`: the service's PGP stages against `gpg` on the same
 * file in the same run. BENCH_PGP_MIB (default 2048) of random bytes go
 * through the outbound encryption stage (encrypt + sign, the delivery byte
 * path) and through the inbound decryption (decrypt + verify, to a file), and
 * through `gpg --encrypt --sign` / `gpg --decrypt` on the same keys. Reports
 * throughput of each and the peak RSS growth of this process over its
 * baseline while the service's stages run (goal: under 64 MiB whatever the
 * size, i.e. streaming).
 */
import { execFile } from 'node:child_process'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { composeBytePath } from '../src/transfer/byte-pipeline.js'
import { decryptMessage, openInboundPgp } from '../src/transfer/pgp/decrypt.js'
import { encryptionStage, openOutboundPgp } from '../src/transfer/pgp/encrypt-stage.js'
import { openKeyring } from '../test/support/gpg.js'
import { log, MB, printTable, type Row } from './lib.js'

const run = promisify(execFile)

export async function benchPgp(
  mib = Number(process.env.BENCH_PGP_MIB ?? 2048),
): Promise<{ rows: Row[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pgp-'))
  const ring = await openKeyring()
  try {
    const bridge = await ring.generate('Bridge')
    const bank = await ring.generate('Bank')
    const plain = join(dir, 'plain.bin')
    // Random bytes: nothing to compress, so both sides do the same work.
    await run('/bin/sh', ['-c', `head -c ${mib * MB} /dev/urandom > ${plain}`])
    const outKeys = await openOutboundPgp({
      encryptTo: [bank.publicKey],
      sign: { privateKey: bridge.privateKey, passphrase: bridge.passphrase },
      armor: false,
    })
    const inKeys = await openInboundPgp({
      decrypt: { privateKey: bank.privateKey, passphrase: bank.passphrase },
      requireSignatureFrom: [bridge.publicKey],
    })
    global.gc?.()
    const base = process.memoryUsage().rss
    let peak = base
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 50)

    const encrypted = join(dir, 'service.pgp')
    let t0 = process.hrtime.bigint()
    const path = composeBytePath({ source: createReadStream(plain), stages: [encryptionStage(outKeys)] })
    await Promise.all([pipeline(path.stream, createWriteStream(encrypted)), path.done])
    const encryptSeconds = Number(process.hrtime.bigint() - t0) / 1e9
    t0 = process.hrtime.bigint()
    const result = await decryptMessage(
      inKeys,
      createReadStream(encrypted),
      createWriteStream(join(dir, 'service.out')),
    )
    const decryptSeconds = Number(process.hrtime.bigint() - t0) / 1e9
    clearInterval(sampler)
    if (result.bytes !== mib * MB || result.signedBy === null)
      throw new Error('the service did not round-trip the file')

    const gpgArgs = ['--trust-model', 'always', '--compress-algo', 'none']
    t0 = process.hrtime.bigint()
    await ring.gpg([
      ...gpgArgs,
      '--passphrase',
      bridge.passphrase,
      '--local-user',
      bridge.fingerprint,
      '--recipient',
      bank.fingerprint,
      '--output',
      join(dir, 'gpg.pgp'),
      '--encrypt',
      '--sign',
      plain,
    ])
    const gpgEncrypt = Number(process.hrtime.bigint() - t0) / 1e9
    t0 = process.hrtime.bigint()
    await ring.gpg([
      ...gpgArgs,
      '--passphrase',
      bank.passphrase,
      '--output',
      join(dir, 'gpg.out'),
      '--decrypt',
      encrypted,
    ])
    const gpgDecrypt = Number(process.hrtime.bigint() - t0) / 1e9
    if ((await stat(join(dir, 'gpg.out'))).size !== mib * MB)
      throw new Error('gpg did not decrypt the service file')

    const rate = (s: number) => `${(mib / s).toFixed(1)} MiB/s`
    const growth = (peak - base) / MB
    const rows: Row[] = [
      [
        `PGP encrypt+sign ${mib} MiB (service stage)`,
        rate(encryptSeconds),
        `gpg ${rate(gpgEncrypt)}`,
        (gpgEncrypt / encryptSeconds).toFixed(2),
      ],
      [
        `PGP decrypt+verify ${mib} MiB (service)`,
        rate(decryptSeconds),
        `gpg ${rate(gpgDecrypt)}`,
        (gpgDecrypt / decryptSeconds).toFixed(2),
      ],
      [
        `PGP peak RSS growth, ${mib} MiB each way`,
        `${growth.toFixed(1)} MiB`,
        'goal < 64 MiB',
        (growth / 64).toFixed(2),
      ],
    ]
    return {
      rows,
      notes: [
        `PGP: ${mib} MiB of random bytes; gpg run with --compress-algo none on the same keys and files; RSS ${(base / MB).toFixed(0)} MiB before the service's stages, peak ${(peak / MB).toFixed(0)} MiB during them (sampled every 50 ms).`,
      ],
    }
  } finally {
    await ring.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  log(`pgp: ${process.env.BENCH_PGP_MIB ?? 2048} MiB`)
  const { rows, notes } = await benchPgp()
  printTable(rows)
  for (const note of notes) console.log(note)
}
