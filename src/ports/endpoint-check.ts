/**
 * What an endpoint check finds out about a remote file server: who answered
 * (host key or certificate), what it can do, whether the configured
 * directories are usable, and how far its clock is off. Secrets never appear.
 */
import type { EndpointConfig } from '../config/schema.js'

export interface EndpointCheckError {
  code: string
  message: string
}

export interface HostKeyReport {
  /** "SHA256:<base64>" of the key the server presented, as ssh-keygen -l prints it. */
  fingerprint: string
  /** The key's type from its blob, e.g. ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256. */
  keyType: string
  /** The negotiated host key algorithm (rsa-sha2-512, …); null when the handshake stopped at the key. */
  algorithm: string | null
  /** The pin that matched; else the configured pins, comma-separated; null when none is configured. */
  pinned: string | null
  /** Every configured pin, normalised to "SHA256:<base64>". */
  pins: string[]
  /** The pin the presented key matched; null when none did (or none is configured). */
  matchedPin: string | null
  /** null when nothing is pinned. */
  matchesPin: boolean | null
  /** Every host key the server announced after login (OpenSSH hostkeys-00), and whether it is pinned. */
  announced: { fingerprint: string; keyType: string; pinned: boolean }[]
}

export interface CertificateReport {
  subject: string
  issuer: string
  validFrom: string
  validTo: string
  /** SHA-256 of the DER certificate, colon-separated hex (as openssl x509 -fingerprint -sha256). */
  fingerprint256: string
  serialNumber: string
  subjectAltName: string | null
}

export interface TlsReport {
  /** Negotiated protocol, e.g. TLSv1.3. */
  version: string | null
  cipher: string | null
  /** Whether the chain verified against the configured CA (or the system store) and the host name matched. */
  verified: boolean
  verificationError: string | null
  certificate: CertificateReport | null
}

export interface FeatureEntry {
  /** FEAT line keyword or SFTP extension name. */
  name: string
  /** The rest of the FEAT line, or the extension's data; null when there is none. */
  value: string | null
}

export interface FeatureSummary {
  /** Everything the server listed: FEAT lines (FTP) or SFTP extensions. */
  raw: FeatureEntry[]
  mlsd: boolean
  epsv: boolean
  utf8: boolean
  size: boolean
  mdtm: boolean
  restStream: boolean
  /** FTP hash commands offered: HASH, XSHA256, XSHA1, XSHA512, XMD5, XCRC. */
  hashCommands: string[]
  /** The algorithms listed with HASH (the selected one loses its `*`). */
  hashAlgorithms: string[]
  posixRename: boolean
  statvfs: boolean
  hardlink: boolean
  fsync: boolean
  checkFile: boolean
}

export interface DirectoryReport {
  path: string
  exists: boolean
  isDirectory: boolean
  /** A uniquely named probe file was created and deleted. */
  writable: boolean
  /** The probe file could be renamed; null when not tried (not writable, or supportsRename false). */
  canRename: boolean | null
  ok: boolean
  error?: EndpointCheckError
}

export interface ClockReport {
  /** Server time minus local time, estimated from the probe file's mtime. */
  skewSeconds: number
  /** Resolution of the mtime the server reports; the estimate is no better than this. */
  precisionSeconds: number
  /** Where the mtime came from: SFTP stat, MDTM, MLSD or LIST. */
  source: string
  serverTime: string
  localTime: string
}

export interface CheckTimings {
  /** TCP connect through the SSH key exchange / FTP welcome and TLS. */
  connectMs: number | null
  loginMs: number | null
  featuresMs: number | null
  directoriesMs: number | null
  totalMs: number
}

export interface EndpointReport {
  endpoint: string
  protocol: EndpointConfig['protocol']
  host: string
  port: number
  checkedAt: string
  /** Connected, logged in, no error, every directory fine. */
  ok: boolean
  /** The server answered and the SSH key exchange / TLS handshake got as far as its key or certificate. */
  connected: boolean
  authenticated: boolean
  /** SSH identification line or FTP welcome message. */
  serverIdentification: string | null
  /** SSH user-authentication banner, when the server sent one. */
  loginBanner: string | null
  hostKey?: HostKeyReport
  /** The proxy the check went through ("socks5://host:port"), credentials left out. */
  proxy?: string | null
  tls?: TlsReport
  features?: FeatureSummary
  directories: DirectoryReport[]
  clock?: ClockReport
  /** Things worth knowing that do not fail the check (clock skew, insecure settings). */
  warnings: string[]
  timings: CheckTimings
  error?: EndpointCheckError
}
