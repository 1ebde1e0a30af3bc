/**
 * Proxies, host key pin lists and SSH algorithms in the configuration:
 * validation with key paths, redaction, the HTTPS_PROXY / NO_PROXY reading
 * (domain/proxy.ts), and the algorithm lists staying those ssh2 implements.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse, stringify } from 'yaml'
import { ConfigError, type Env, parseConfig, REDACTED, redactConfig } from '../../src/config/load.js'
import { SSH_CIPHERS, SSH_KEX, SSH_MACS, SSH_SERVER_HOST_KEYS } from '../../src/config/proxy-schema.js'
import { configSecrets } from '../../src/config/secrets.js'
import { bypassesProxy, describeProxy, httpProxyFor, proxyTarget } from '../../src/domain/proxy.js'

const fixturePath = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bridge.example.yaml')
const fixtureText = readFileSync(fixturePath, 'utf8')
const env: Env = {
  BRIDGE_API_KEY: 'k3y-0123456789abcdef-k3y',
  SF_CLIENT_ID: '3MVG9-example-client-id',
  SF_CLIENT_SECRET: 'example-client-secret',
  PARTNER_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
  PARTNER_SFTP_PASSPHRASE: 'correct horse',
  SCANNER_FTP_PASSWORD: 'scanner-pass',
  BANK_FTPS_PASSWORD: 'bank-pass',
  BANK_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nBBBB\n-----END OPENSSH PRIVATE KEY-----\n',
  OM_SECRET: 'om-secret-0123456789abcdef',
  PROXY_PASSWORD: 'proxy-secret-9f8e',
}
const PIN_A = 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'
const PIN_B = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'

type Data = Record<string, any>

function withChanges(change: (data: Data) => void): string {
  const data = parse(fixtureText) as Data
  change(data)
  return stringify(data)
}

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, 'yaml', env)
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
  }
}

t.test('proxies, pin lists and algorithms are accepted and typed', async (t) => {
  const config = parseConfig(
    withChanges((data) => {
      data.endpoints['partner-sftp'].hostKeySha256 = [PIN_A, PIN_B]
      data.endpoints['partner-sftp'].algorithms = {
        kex: ['diffie-hellman-group14-sha1'],
        serverHostKey: ['ssh-rsa'],
      }
      data.endpoints['partner-sftp'].proxy = {
        url: 'socks5://proxy.corp:1080',
        username: 'bridge',
        password: '${PROXY_PASSWORD}',
      }
      data.endpoints['bank-ftps'].proxy = { url: 'http://proxy.corp:3128' }
      data.salesforce.proxy = {
        url: 'http://proxy.corp:3128',
        username: 'bridge',
        password: '${PROXY_PASSWORD}',
      }
      data.sdrive.proxy = { url: 'http://bridge:${PROXY_PASSWORD}@proxy.corp:3128' }
    }),
    'yaml',
    env,
  )
  const sftp = config.endpoints['partner-sftp']!
  t.same(sftp.hostKeySha256, [PIN_A, PIN_B])
  t.same(sftp.proxy, {
    url: 'socks5://proxy.corp:1080',
    username: 'bridge',
    password: env.PROXY_PASSWORD,
    connectTimeoutMs: 15_000,
  })
  t.equal(config.endpoints['bank-ftps']?.proxy?.connectTimeoutMs, 15_000, 'the proxy deadline has a default')

  const redacted = redactConfig(config)
  t.equal(redacted.endpoints['partner-sftp']?.proxy?.password, REDACTED)
  t.equal(redacted.salesforce.proxy?.password, REDACTED)
  t.equal(
    redacted.sdrive.proxy?.url,
    `http://bridge:${REDACTED}@proxy.corp:3128`,
    'a password in a proxy URL too',
  )
  t.notOk(
    JSON.stringify(redacted).includes(env.PROXY_PASSWORD as string),
    'the proxy password appears nowhere',
  )
  t.ok(configSecrets(config).includes(env.PROXY_PASSWORD as string), 'recordings scrub it as well')
})

t.test('wrong values are refused with their key paths', async (t) => {
  const issues = issuesOf(
    withChanges((data) => {
      data.endpoints['partner-sftp'].hostKeySha256 = [PIN_A, 'md5:aa:bb']
      data.endpoints['partner-sftp'].algorithms = { cipher: ['rot13-cbc'] }
      data.endpoints['partner-sftp'].proxy = { url: 'ftp://proxy.corp:21' }
      data.endpoints['scanner-ftp'].algorithms = { kex: ['curve25519-sha256'] }
      data.salesforce.proxy = { url: 'http://proxy.corp:3128/path' }
    }),
  )
  const text = issues.join('\n')
  t.match(
    text,
    /endpoints\.partner-sftp\.hostKeySha256\[1\]: must look like "SHA256:/,
    'the bad pin of the list',
  )
  t.match(text, /endpoints\.partner-sftp\.algorithms\.cipher\[0\]/, 'an algorithm ssh2 does not implement')
  t.match(text, /endpoints\.partner-sftp\.proxy\.url/, 'a proxy scheme other than socks5/http')
  t.match(text, /endpoints\.scanner-ftp\.algorithms: SSH algorithms are for sftp endpoints only/)
  t.match(text, /salesforce\.proxy\.url/, 'a proxy URL with a path')
  const empty = issuesOf(withChanges((data) => (data.endpoints['partner-sftp'].hostKeySha256 = [])))
  t.ok(
    empty.some((issue) => issue.startsWith('endpoints.partner-sftp.hostKeySha256')),
    'an empty pin list is refused',
  )
})

t.test('the algorithm lists are what ssh2 implements', async (t) => {
  const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<
    string,
    string[]
  >
  t.same([...SSH_KEX], constants.SUPPORTED_KEX)
  t.same([...SSH_CIPHERS], constants.SUPPORTED_CIPHER)
  t.same([...SSH_SERVER_HOST_KEYS], constants.SUPPORTED_SERVER_HOST_KEY)
  t.same([...SSH_MACS], constants.SUPPORTED_MAC)
})

t.test('proxy URLs, HTTPS_PROXY / HTTP_PROXY and NO_PROXY', async (t) => {
  t.same(proxyTarget({ url: 'socks5://10.0.0.1' }), {
    kind: 'socks5',
    host: '10.0.0.1',
    port: 1080,
    connectTimeoutMs: 15_000,
  })
  const fromUrl = proxyTarget({ url: 'http://us%40er:p%3Ass@[::1]:8080' })
  t.same([fromUrl.host, fromUrl.port, fromUrl.username, fromUrl.password], ['::1', 8080, 'us@er', 'p:ss'])
  t.equal(describeProxy(fromUrl), 'http://[::1]:8080', 'described without credentials')
  t.throws(() => proxyTarget({ url: 'https://proxy:443' }), { code: 'CONFIG_INVALID' })

  const org = new URL('https://acme.my.salesforce.com/services/data')
  const bucket = new URL('http://bucket.s3.amazonaws.com/')
  const env = { HTTPS_PROXY: 'http://secure-proxy:3128', http_proxy: 'plain-proxy:8080' }
  t.equal(httpProxyFor(org, undefined, env)?.host, 'secure-proxy', 'https URLs take HTTPS_PROXY')
  t.same(
    [httpProxyFor(bucket, undefined, env)?.host, httpProxyFor(bucket, undefined, env)?.port],
    ['plain-proxy', 8080],
    'http URLs take http_proxy; a bare host:port is an http proxy',
  )
  t.equal(httpProxyFor(org, undefined, {}), undefined, 'no proxy: direct')
  t.equal(
    httpProxyFor(org, { url: 'socks5://configured:1080', connectTimeoutMs: 5000 }, env)?.host,
    'configured',
    'the configured proxy wins over the environment',
  )
  t.equal(httpProxyFor(org, undefined, { ...env, NO_PROXY: '.salesforce.com' }), undefined)
  t.ok(bypassesProxy(org, 'salesforce.com'), 'a domain covers its subdomains')
  t.ok(bypassesProxy(org, '*'), '* covers everything')
  t.ok(bypassesProxy(org, 'localhost, acme.my.salesforce.com:443'), 'host with the matching port')
  t.notOk(bypassesProxy(org, 'acme.my.salesforce.com:8443'), 'another port does not match')
  t.notOk(bypassesProxy(org, 'force.com'), 'only whole labels match')
  t.notOk(bypassesProxy(org, ''), 'empty NO_PROXY')
})
