/** The endpoint check report (src/ports/endpoint-check.ts) as named OpenAPI components. */
import { Type as T } from '@sinclair/typebox'

const NullableString = (description?: string) =>
  T.Union([T.String(description ? { description } : {}), T.Null()])
const NullableInteger = () => T.Union([T.Integer(), T.Null()])
const NullableBoolean = (description: string) => T.Union([T.Boolean({ description }), T.Null()])

export const EndpointParams = T.Object({
  name: T.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9-_]*$',
    maxLength: 128,
    description: 'Endpoint name from the configuration.',
  }),
})

export const EndpointAnnouncedHostKey = T.Object(
  {
    fingerprint: T.String(),
    keyType: T.String(),
    pinned: T.Boolean({ description: 'false: a warning says so (a rotation may be coming).' }),
  },
  { $id: 'EndpointAnnouncedHostKey', title: 'EndpointAnnouncedHostKey', additionalProperties: false },
)

export const EndpointHostKey = T.Object(
  {
    fingerprint: T.String({
      description: '"SHA256:<base64>" of the presented key, as ssh-keygen -l prints it.',
    }),
    keyType: T.String({ description: 'ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, …' }),
    algorithm: NullableString('Negotiated host key algorithm; null when the check stopped at the key.'),
    pinned: NullableString(
      'The pin the presented key matched; when none did, the configured pins, comma-separated; null when none is configured.',
    ),
    pins: T.Array(T.String(), { description: 'Every configured hostKeySha256 pin.' }),
    matchedPin: NullableString('The pin the presented key matched; null when none did.'),
    matchesPin: NullableBoolean('null when nothing is pinned.'),
    announced: T.Array(T.Ref('EndpointAnnouncedHostKey'), {
      description: 'Host keys the server announced after login (OpenSSH hostkeys-00), each proven by it.',
    }),
  },
  { $id: 'EndpointHostKey', title: 'EndpointHostKey', additionalProperties: false },
)

export const EndpointCertificate = T.Object(
  {
    subject: T.String(),
    issuer: T.String(),
    validFrom: T.String({ format: 'date-time' }),
    validTo: T.String({ format: 'date-time' }),
    fingerprint256: T.String({ description: 'SHA-256 of the certificate, colon-separated hex.' }),
    serialNumber: T.String(),
    subjectAltName: NullableString(),
  },
  { $id: 'EndpointCertificate', title: 'EndpointCertificate', additionalProperties: false },
)

export const EndpointTls = T.Object(
  {
    version: NullableString('Negotiated TLS version, e.g. TLSv1.3.'),
    cipher: NullableString(),
    verified: T.Boolean({
      description: 'The chain verified against the configured CA and the name matched.',
    }),
    verificationError: NullableString(),
    certificate: T.Optional(T.Ref('EndpointCertificate')),
  },
  { $id: 'EndpointTls', title: 'EndpointTls', additionalProperties: false },
)

export const EndpointFeature = T.Object(
  { name: T.String(), value: NullableString() },
  { $id: 'EndpointFeature', title: 'EndpointFeature', additionalProperties: false },
)

export const EndpointFeatures = T.Object(
  {
    raw: T.Array(T.Ref('EndpointFeature'), { description: 'FEAT lines (FTP) or SFTP extensions.' }),
    mlsd: T.Boolean(),
    epsv: T.Boolean(),
    utf8: T.Boolean(),
    size: T.Boolean(),
    mdtm: T.Boolean(),
    restStream: T.Boolean(),
    hashCommands: T.Array(T.String(), { description: 'HASH, XSHA256, XSHA1, XSHA512, XMD5, XCRC.' }),
    hashAlgorithms: T.Array(T.String(), { description: 'Algorithms listed with HASH.' }),
    posixRename: T.Boolean({ description: 'SFTP posix-rename@openssh.com (atomic replace).' }),
    statvfs: T.Boolean(),
    hardlink: T.Boolean(),
    fsync: T.Boolean(),
    checkFile: T.Boolean(),
  },
  { $id: 'EndpointFeatures', title: 'EndpointFeatures', additionalProperties: false },
)

export const EndpointDirectory = T.Object(
  {
    path: T.String(),
    exists: T.Boolean(),
    isDirectory: T.Boolean(),
    writable: T.Boolean({ description: 'A uniquely named probe file was created and deleted.' }),
    canRename: NullableBoolean('The probe file could be renamed; null when not tried.'),
    ok: T.Boolean(),
    error: T.Optional(T.Ref('ErrorInfo')),
  },
  { $id: 'EndpointDirectory', title: 'EndpointDirectory', additionalProperties: false },
)

export const EndpointClock = T.Object(
  {
    skewSeconds: T.Number({ description: 'Server time minus local time, from the probe file mtime.' }),
    precisionSeconds: T.Number({ description: 'Resolution of the mtime the server reports.' }),
    source: T.String({ description: 'SFTP stat, MDTM, MLSD or LIST.' }),
    serverTime: T.String({ format: 'date-time' }),
    localTime: T.String({ format: 'date-time' }),
  },
  { $id: 'EndpointClock', title: 'EndpointClock', additionalProperties: false },
)

export const EndpointCheckTimings = T.Object(
  {
    connectMs: NullableInteger(),
    loginMs: NullableInteger(),
    featuresMs: NullableInteger(),
    directoriesMs: NullableInteger(),
    totalMs: T.Integer(),
  },
  { $id: 'EndpointCheckTimings', title: 'EndpointCheckTimings', additionalProperties: false },
)

export const EndpointReport = T.Object(
  {
    endpoint: T.String(),
    protocol: T.String({ description: 'sftp, ftp, ftps or ftps-implicit.' }),
    host: T.String(),
    port: T.Integer(),
    checkedAt: T.String({ format: 'date-time' }),
    ok: T.Boolean({ description: 'Logged in, no error, every directory fine.' }),
    connected: T.Boolean({ description: 'The server answered and showed its host key or certificate.' }),
    authenticated: T.Boolean(),
    serverIdentification: NullableString('SSH identification line or FTP welcome message.'),
    loginBanner: NullableString('SSH user-authentication banner.'),
    hostKey: T.Optional(T.Ref('EndpointHostKey')),
    proxy: T.Optional(NullableString('The proxy the check went through, without credentials.')),
    tls: T.Optional(T.Ref('EndpointTls')),
    features: T.Optional(T.Ref('EndpointFeatures')),
    directories: T.Array(T.Ref('EndpointDirectory')),
    clock: T.Optional(T.Ref('EndpointClock')),
    warnings: T.Array(T.String()),
    timings: T.Ref('EndpointCheckTimings'),
    error: T.Optional(T.Ref('ErrorInfo')),
  },
  { $id: 'EndpointReport', title: 'EndpointReport', additionalProperties: false },
)
