/**
 * PGP end to end over real sockets, interoperating with the real GnuPG
 * (Debian's gnupg): files `gpg --encrypt --sign` made are decrypted and
 * verified inbound (SFTP → S-Drive sandbox) and land as plaintext without
 * their suffix; a wrong key, an unsigned file and a file signed by a key not
 * listed go to the error folder with PGP_DECRYPT_FAILED /
 * PGP_SIGNATURE_INVALID and nothing in S-Drive (no WIP record either). A file
 * the bridge encrypted and signed outbound is decrypted and verified by gpg;
 * the job and the manifest record both digests. No key or passphrase is
 * logged or answered by the API.
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { type GpgKey, type Keyring, openKeyring, skipUnlessGpg } from '../support/gpg.js'
import { sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

// gpg and a few large files both ways: more than tap's default on a busy 2-core machine.
t.setTimeout(10 * 60_000)

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')
const skip = skipUnlessGpg()

/** Keys made by gpg itself, shared by both directions. */
async function keys(t: Test): Promise<{ ring: Keyring; bridge: GpgKey; partner: GpgKey; stranger: GpgKey }> {
  const ring = await openKeyring()
  t.teardown(() => ring.close())
  const [bridge, partner, stranger] = [
    await ring.generate('Bridge'),
    await ring.generate('Partner'),
    await ring.generate('Stranger'),
  ]
  return { ring, bridge, partner, stranger }
}

/** Encrypts `plain` with gpg as the partner would; `signer` null makes an unsigned file. */
async function gpgEncrypt(
  ring: Keyring,
  plain: Buffer,
  to: GpgKey,
  signer: GpgKey | null,
  armor = false,
): Promise<Buffer> {
  const input = join(ring.home, `in-${Math.random().toString(36).slice(2)}`)
  await writeFile(input, plain)
  const sign = signer ? ['--passphrase', signer.passphrase, '--local-user', signer.fingerprint, '--sign'] : []
  await ring.gpg([
    ...(armor ? ['--armor'] : []),
    '--trust-model',
    'always',
    '--recipient',
    to.fingerprint,
    ...sign,
    '--output',
    `${input}.out`,
    '--encrypt',
    input,
  ])
  return readFile(`${input}.out`)
}

function assertNoSecrets(t: Test, text: string, secrets: string[], what: string) {
  for (const secret of secrets)
    t.notOk(text.includes(secret), `${what} holds no secret (${secret.slice(0, 12)}…)`)
}

t.test(
  'inbound: gpg-made files decrypted and verified; failures to the error folder',
  { skip },
  async (t) => {
    const { ring, bridge, partner, stranger } = await keys(t)
    const env = {
      BRIDGE_PGP_KEY: bridge.privateKey,
      BRIDGE_PGP_PASSPHRASE: bridge.passphrase,
      PARTNER_PGP_PUBLIC: partner.publicKey,
    }
    const h = await startHarness({
      protocol: 'sftp',
      env,
      flows: (endpoint) => [
        standardFlow(endpoint, {
          source: {
            endpoint,
            directory: '/inbox',
            include: ['**/*.gpg', '**/*.asc', '**/*.pgp'],
            recursive: true,
          },
          pgp: {
            decrypt: { privateKey: '${BRIDGE_PGP_KEY}', passphrase: '${BRIDGE_PGP_PASSPHRASE}' },
            requireSignatureFrom: ['${PARTNER_PGP_PUBLIC}'],
          },
          retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
        }),
      ],
    })
    t.teardown(() => h.close())
    seedRecords(h.sandbox)

    // Larger than a chunk of every stream on the way, so the signature is checked at a real stream's end.
    const contract = Buffer.from('ACME contract, page after page. '.repeat(40_000))
    const notes = Buffer.from('notes from the partner\n')
    await h.put('inbox/ACME-001_contract.pdf.gpg', await gpgEncrypt(ring, contract, bridge, partner))
    await h.put('inbox/ACME-001_notes.txt.asc', await gpgEncrypt(ring, notes, bridge, partner, true))
    await h.put('inbox/ACME-001_wrong-key.pdf.gpg', await gpgEncrypt(ring, notes, stranger, partner))
    await h.put('inbox/ACME-001_unsigned.pdf.gpg', await gpgEncrypt(ring, contract, bridge, null))
    await h.put('inbox/ACME-001_foreign.pdf.pgp', await gpgEncrypt(ring, contract, bridge, stranger))
    await h.put('inbox/ACME-001_not-pgp.pdf.gpg', 'plain text pretending')

    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'partially_failed')
    const byName = Object.fromEntries(run.items.map((i) => [i.name, i]))
    t.same(
      [byName['ACME-001_contract.pdf.gpg']?.state, byName['ACME-001_contract.pdf.gpg']?.errorMessage],
      ['done', null],
    )
    t.equal(byName['ACME-001_notes.txt.asc']?.state, 'done', 'ASCII-armored too')
    t.equal(byName['ACME-001_wrong-key.pdf.gpg']?.errorCode, 'PGP_DECRYPT_FAILED')
    t.equal(byName['ACME-001_not-pgp.pdf.gpg']?.errorCode, 'PGP_DECRYPT_FAILED')
    t.equal(byName['ACME-001_unsigned.pdf.gpg']?.errorCode, 'PGP_SIGNATURE_INVALID', 'unsigned')
    t.equal(
      byName['ACME-001_foreign.pdf.pgp']?.errorCode,
      'PGP_SIGNATURE_INVALID',
      'signed by a key not listed',
    )
    t.equal(byName['ACME-001_wrong-key.pdf.gpg']?.attempts, 1, 'a PGP failure is not retried')

    const records = h.sandbox.records('cg__AccountFile__c')
    t.same(
      records.map((r) => r.cg__File_Name__c).sort(),
      ['ACME-001_contract.pdf', 'ACME-001_notes.txt'],
      'only the two good files reached S-Drive, named without the suffix; no WIP record was ever made for the others',
    )
    t.equal(sdriveFiles(h.sandbox).length, 2)
    const stored = records.find((r) => r.cg__File_Name__c === 'ACME-001_contract.pdf')
    t.ok((await h.sandbox.s3Object(String(stored?.cg__Key__c)))?.equals(contract), 'S3 holds the plaintext')
    t.equal(
      byName['ACME-001_contract.pdf.gpg']?.sha256,
      sha256(contract),
      'the item records the plaintext SHA-256',
    )

    t.same(await h.list('processed'), ['ACME-001_contract.pdf.gpg', 'ACME-001_notes.txt.asc'])
    const errors = await h.list('errors')
    for (const name of [
      'ACME-001_wrong-key.pdf.gpg',
      'ACME-001_unsigned.pdf.gpg',
      'ACME-001_foreign.pdf.pgp',
    ]) {
      t.ok(
        errors.includes(name) && errors.includes(`${name}.error.json`),
        `${name} in the error folder with its reason`,
      )
    }
    t.equal(
      JSON.parse(await h.read('errors/ACME-001_foreign.pdf.pgp.error.json')).code,
      'PGP_SIGNATURE_INVALID',
    )
    t.equal(
      JSON.parse(await h.read('errors/ACME-001_wrong-key.pdf.gpg.error.json')).code,
      'PGP_DECRYPT_FAILED',
    )

    const flows = await h.api('GET', '/v1/flows')
    const secrets = [bridge.passphrase, bridge.privateKey.split('\n')[3] as string]
    assertNoSecrets(t, JSON.stringify(flows.json), secrets, 'GET /v1/flows')
    assertNoSecrets(t, h.logs.join(''), secrets, 'the log')
  },
)

t.test('outbound: the bridge encrypts and signs, gpg decrypts and verifies', { skip }, async (t) => {
  const { ring, bridge, partner } = await keys(t)
  await ring.importKey(bridge.publicKey)
  const env = {
    BANK_PGP_PUBLIC: partner.publicKey,
    BRIDGE_PGP_KEY: bridge.privateKey,
    BRIDGE_PGP_PASSPHRASE: bridge.passphrase,
  }
  const h = await startHarness({
    protocol: 'sftp',
    env,
    flows: (endpoint) => [
      {
        name: 'bank',
        kind: 'outbound',
        source: {
          object: 'Opportunity',
          fileObject: 'cg__OpportunityFile__c',
          parentField: 'cg__Opportunity__c',
        },
        destination: { endpoint, directory: '/outbox', fileName: '{file.name}' },
        manifest: { format: 'csv' },
        pgp: {
          encryptTo: ['${BANK_PGP_PUBLIC}'],
          sign: { privateKey: '${BRIDGE_PGP_KEY}', passphrase: '${BRIDGE_PGP_PASSPHRASE}' },
        },
        retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
      },
    ],
  })
  t.teardown(() => h.close())
  const opp = h.sandbox.insert('Opportunity', { Name: 'Payroll', StageName: 'Closed Won' })
  const payroll = 'IBAN;amount\n'.concat('DE00 1234;100.00\n'.repeat(50_000))
  await seedSDriveFiles(
    h.server.bridge.sdrive,
    { parentId: opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
    [{ name: 'payroll.csv', content: payroll }],
  )
  const res = await h.api('POST', '/v1/exports', { body: { flow: 'bank', recordIds: [opp] } })
  t.equal(res.status, 202)
  await h.server.bridge.exports.settled(res.json.jobId)
  const job = (await h.api('GET', `/v1/jobs/${res.json.jobId}`)).json
  t.equal(job.state, 'succeeded')
  const files = await h.list('outbox')
  t.ok(files.includes('payroll.csv.pgp'), 'delivered with the .pgp suffix')
  const delivered = await readFile(join(h.remoteRoot, 'outbox/payroll.csv.pgp'))
  t.not(delivered.includes(Buffer.from('IBAN')), true, 'the delivered file is not the plaintext')

  const file = job.files[0]
  t.equal(file.plaintextSha256, sha256(payroll), 'the job records the SHA-256 of what S-Drive holds')
  t.equal(file.sha256, sha256(delivered), 'and that of the bytes delivered')
  t.equal(file.bytesTransferred, delivered.length)

  const out = join(ring.home, 'bank-decrypted.csv')
  const verified = await ring.gpg([
    '--passphrase',
    partner.passphrase,
    '--trust-model',
    'always',
    '--status-fd',
    '1',
    '--output',
    out,
    '--decrypt',
    join(h.remoteRoot, 'outbox/payroll.csv.pgp'),
  ])
  t.match(verified.stdout, new RegExp(`VALIDSIG ${bridge.fingerprint}`), 'gpg verifies the bridge signature')
  t.match(verified.stdout, /DECRYPTION_OKAY/, 'gpg decrypts it')
  t.equal(await readFile(out, 'utf8'), payroll, 'to the plaintext S-Drive holds')

  const manifestName = files.find((f) => f.startsWith('manifest-')) as string
  const manifest = await h.read(`outbox/${manifestName}`)
  t.match(manifest.split('\n')[0], /sha256.*plaintextSha256/, 'the manifest has both digests')
  t.ok(manifest.includes(sha256(payroll)) && manifest.includes(sha256(delivered)))

  const secrets = [bridge.passphrase, bridge.privateKey.split('\n')[3] as string]
  assertNoSecrets(t, JSON.stringify((await h.api('GET', '/v1/flows')).json), secrets, 'GET /v1/flows')
  assertNoSecrets(t, JSON.stringify(job), secrets, 'the job')
  assertNoSecrets(t, h.logs.join(''), secrets, 'the log')
})
