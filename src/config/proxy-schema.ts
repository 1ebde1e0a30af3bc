/**
 * Configuration of the way out to partners and to Salesforce/S3: proxies,
 * pinned SSH host keys (one or several, for rotation) and SSH algorithms.
 * Kept apart from schema.ts, which only references these.
 */
import { type Static, Type as T } from '@sinclair/typebox'

export const ProxyConfigSchema = T.Object(
  {
    url: T.String({
      pattern: '^(socks5h?|http)://[^/?#]+/?$',
      description:
        'socks5://host:1080 (SOCKS5, the proxy resolves the name) or http://host:3128 (HTTP CONNECT tunnel). No path; put the credentials in username/password.',
    }),
    username: T.Optional(T.String({ minLength: 1, description: 'Proxy login, if the proxy asks for one.' })),
    password: T.Optional(T.String({ description: 'Proxy password; use a ${VAR} reference.' })),
    connectTimeoutMs: T.Integer({
      minimum: 1,
      default: 15_000,
      description: 'Deadline for reaching the proxy, logging in to it and having it open the tunnel.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Reach this server through a proxy. For FTP/FTPS the data connections go through it too; a proxy refusing the credentials fails with PROXY_AUTH_FAILED.',
  },
)

export const HttpProxyConfigSchema = T.Object(ProxyConfigSchema.properties, {
  additionalProperties: false,
  description:
    'Proxy for these HTTPS calls; overrides HTTPS_PROXY / HTTP_PROXY. NO_PROXY still names hosts reached directly.',
})

const HostKeyPin = T.String({ description: '"SHA256:<base64>" as ssh-keygen -lf prints it.' })

export const HostKeyPinsSchema = T.Union([HostKeyPin, T.Array(HostKeyPin, { minItems: 1, maxItems: 16 })], {
  description:
    'Pinned SFTP host key(s): "SHA256:<base64>" as ssh-keygen -lf prints it, or a list of them (the old and the new key while a partner rotates). Required for sftp unless insecureSkipHostKeyCheck is true.',
})

/** What ssh2 1.x implements (test/unit/ssh-algorithms.test.ts keeps these lists equal to ssh2's). */
export const SSH_KEX = [
  'curve25519-sha256@libssh.org',
  'curve25519-sha256',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group-exchange-sha256',
  'diffie-hellman-group14-sha256',
  'diffie-hellman-group15-sha512',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group17-sha512',
  'diffie-hellman-group18-sha512',
  'diffie-hellman-group-exchange-sha1',
  'diffie-hellman-group14-sha1',
  'diffie-hellman-group1-sha1',
] as const
export const SSH_CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'chacha20-poly1305@openssh.com',
  'aes256-ctr',
  'aes256-cbc',
  'aes192-cbc',
  'aes128-cbc',
  '3des-cbc',
  'aes128-gcm',
  'aes256-gcm',
] as const
export const SSH_SERVER_HOST_KEYS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
  'ssh-dss',
] as const
export const SSH_MACS = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha1-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
  'hmac-sha1',
  'hmac-md5',
  'hmac-sha2-256-96',
  'hmac-sha2-512-96',
  'hmac-ripemd160',
  'hmac-sha1-96',
  'hmac-md5-96',
] as const

const oneOf = (names: readonly string[], what: string) =>
  T.Array(T.Union(names.map((name) => T.Literal(name))), {
    minItems: 1,
    uniqueItems: true,
    description: `${what}, in order of preference; replaces the modern defaults for this endpoint.`,
  })

export const SshAlgorithmsSchema = T.Object(
  {
    kex: T.Optional(oneOf(SSH_KEX, 'Key exchange algorithms')),
    cipher: T.Optional(oneOf(SSH_CIPHERS, 'Ciphers')),
    serverHostKey: T.Optional(oneOf(SSH_SERVER_HOST_KEYS, 'Host key algorithms')),
    hmac: T.Optional(oneOf(SSH_MACS, 'MACs')),
  },
  {
    additionalProperties: false,
    description:
      "SFTP: SSH algorithms for an old partner server (e.g. kex: [diffie-hellman-group14-sha1], serverHostKey: [ssh-rsa]). Unset lists keep ssh2's modern defaults.",
  },
)

export type ProxyConfig = Static<typeof ProxyConfigSchema>
export type SshAlgorithms = Static<typeof SshAlgorithmsSchema>

/** hostKeySha256 as configured → the list of pins. */
export function hostKeyPins(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : [...value]
}
