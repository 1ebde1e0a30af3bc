// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${VAR} references, not templates.
/**
 * PGP settings in the configuration: check-config (loadConfig) reads every
 * key and reports, by key path, a public key that is not one, an expired
 * key and a private key whose passphrase does not open it; the keys'
 * secrets never appear in the messages nor in the redacted configuration.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as openpgp from 'openpgp'
import t from 'tap'
import { ConfigError, loadConfig, REDACTED, redactConfig } from '../../src/config/load.js'
import { checkPgpKeys } from '../../src/config/pgp-checks.js'

async function makeKey(name: string, passphrase: string, expired = false) {
  const day = 24 * 3600
  return openpgp.generateKey({
    type: 'ecc',
    userIDs: [{ name, email: `${name}@example.test` }],
    passphrase,
    format: 'armored',
    ...(expired ? { date: new Date(Date.now() - 10 * day * 1000), keyExpirationTime: day } : {}),
  })
}

function config(flows: unknown[]) {
  return {
    server: { apiKeys: ['${API_KEY}'] },
    store: { sqlitePath: '/tmp/never-opened.sqlite' },
    salesforce: {
      loginUrl: 'https://login.example.test',
      auth: { type: 'client_credentials', clientId: 'id', clientSecret: 'secret' },
    },
    sdrive: { s3UploadUrl: 'https://s3.example.test/bucket' },
    endpoints: { bank: { protocol: 'ftp', host: 'bank.example.test', username: 'u', password: 'p' } },
    flows,
  }
}

const outbound = (pgp: unknown) => ({
  name: 'bank',
  kind: 'outbound',
  source: { object: 'Opportunity', fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
  destination: { endpoint: 'bank', directory: '/out' },
  retry: {},
  pgp,
})

const inbound = (pgp: unknown) => ({
  name: 'partner',
  kind: 'inbound',
  source: { endpoint: 'bank', directory: '/in' },
  match: [{ type: 'recordId', object: 'Account' }],
  target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
  after: { success: 'delete', errorDirectory: '/errors' },
  retry: {},
  pgp,
})

t.test('check-config reads every PGP key and reports bad ones by key path', async (t) => {
  const [bridge, partner, expired] = await Promise.all([
    makeKey('bridge', 'bridge-pass-1'),
    makeKey('partner', 'partner-pass-1'),
    makeKey('expired', 'expired-pass-1', true),
  ])
  const env = {
    API_KEY: 'api-key-0123456789abcdef',
    BRIDGE_KEY: bridge.privateKey,
    BRIDGE_PASS: 'bridge-pass-1',
    WRONG_PASS: 'not-the-passphrase',
    PARTNER_PUBLIC: partner.publicKey,
    EXPIRED_PUBLIC: expired.publicKey,
    NOT_A_KEY: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n',
  }
  const dir = await mkdtemp(join(tmpdir(), 'pgp-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'bridge.json')

  await writeFile(
    file,
    JSON.stringify(
      config([
        outbound({
          encryptTo: ['${PARTNER_PUBLIC}'],
          sign: { privateKey: '${BRIDGE_KEY}', passphrase: '${BRIDGE_PASS}' },
        }),
        inbound({
          decrypt: { privateKey: '${BRIDGE_KEY}', passphrase: '${BRIDGE_PASS}' },
          requireSignatureFrom: ['${PARTNER_PUBLIC}'],
        }),
      ]),
    ),
  )
  const good = await loadConfig(file, env)
  const out = good.flows[0] as { pgp?: { armor: boolean; suffix: string } }
  t.same([out.pgp?.armor, out.pgp?.suffix], [false, '.pgp'], 'defaults: binary, .pgp')
  const shown = JSON.stringify(redactConfig(good))
  t.notOk(shown.includes('bridge-pass-1'), 'the passphrase is redacted')
  t.notOk(shown.includes(bridge.privateKey.split('\n')[3] as string), 'the private key is redacted')
  t.ok(shown.includes(REDACTED))

  await writeFile(
    file,
    JSON.stringify(
      config([
        outbound({
          encryptTo: ['${PARTNER_PUBLIC}', '${NOT_A_KEY}', '${EXPIRED_PUBLIC}'],
          sign: { privateKey: '${BRIDGE_KEY}', passphrase: '${WRONG_PASS}' },
        }),
        inbound({
          decrypt: { privateKey: '${PARTNER_PUBLIC}' },
          requireSignatureFrom: ['${EXPIRED_PUBLIC}'],
        }),
      ]),
    ),
  )
  const error = await loadConfig(file, env).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(error instanceof ConfigError, 'the file is refused')
  const issues = Object.fromEntries((error as ConfigError).issues.map((i) => [i.path, i.message]))
  t.match(issues['flows[0].pgp.encryptTo[1]'], /not an OpenPGP key/, 'a public key that is not one')
  t.match(issues['flows[0].pgp.encryptTo[2]'], /cannot be used|expired/i, 'an expired key')
  t.match(
    issues['flows[0].pgp.sign.passphrase'],
    /passphrase does not open/,
    'a wrong passphrase, at the passphrase',
  )
  t.match(
    issues['flows[1].pgp.decrypt.privateKey'],
    /not an OpenPGP private key/,
    'a public key where a private one belongs',
  )
  t.match(issues['flows[1].pgp.requireSignatureFrom[0]'], /cannot be used|expired/i)
  t.equal(issues['flows[0].pgp.encryptTo[0]'], undefined, 'the good key passes')
  const text = (error as ConfigError).message
  t.notOk(
    text.includes('not-the-passphrase') || text.includes('bridge-pass-1'),
    'no passphrase in the messages',
  )
})

t.test('a key that expires later is accepted now and refused after', async (t) => {
  const key = await openpgp.generateKey({
    type: 'ecc',
    userIDs: [{ name: 'soon' }],
    format: 'armored',
    keyExpirationTime: 3600,
  })
  const flows = [outbound({ encryptTo: [key.publicKey] })]
  t.same(await checkPgpKeys({ flows }), [])
  const later = await checkPgpKeys({ flows }, new Date(Date.now() + 7200 * 1000))
  t.equal(later[0]?.path, 'flows[0].pgp.encryptTo[0]')
})
