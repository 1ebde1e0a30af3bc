import type { Readable } from 'node:stream'

/** One directory entry on a remote file server. Paths are absolute POSIX paths. */
export interface RemoteEntry {
  path: string
  name: string
  type: 'file' | 'directory' | 'other'
  size: number
  /** Modification time in epoch milliseconds (second precision on most servers). */
  modifiedAt: number
}

export interface RemoteOpOptions {
  signal?: AbortSignal
}

/**
 * A remote file server (SFTP, FTP, FTPS) behind one narrow interface.
 * Implementations pool connections (capped per endpoint), put a deadline on
 * every operation, reconnect after a dropped connection, and raise
 * BridgeError with codes REMOTE_NOT_FOUND, REMOTE_AUTH_FAILED,
 * HOST_KEY_MISMATCH, TLS_CERTIFICATE_INVALID, CONNECTION_LOST, TIMEOUT, REMOTE_IO.
 */
export interface RemoteFiles {
  readonly endpoint: string
  /** One directory level. Missing directory → REMOTE_NOT_FOUND. */
  list(dir: string, options?: RemoteOpOptions): Promise<RemoteEntry[]>
  /** null when the path does not exist. */
  stat(path: string, options?: RemoteOpOptions): Promise<RemoteEntry | null>
  /**
   * Streams the file to `consume`; the connection stays checked out until
   * `consume` settles, so FTP's one-transfer-per-connection rule holds.
   */
  read<T>(path: string, consume: (stream: Readable) => Promise<T>, options?: RemoteOpOptions): Promise<T>
  /** Writes `source` to `path` (overwriting), resolving with the bytes written. */
  write(path: string, source: Readable, options?: RemoteOpOptions): Promise<{ bytes: number }>
  /** Renames; fails if the server cannot. Overwrite semantics are the server's. */
  rename(from: string, to: string, options?: RemoteOpOptions): Promise<void>
  delete(path: string, options?: RemoteOpOptions): Promise<void>
  /** mkdir -p: creates missing parents, succeeds if it exists. */
  mkdirp(dir: string, options?: RemoteOpOptions): Promise<void>
  /** Closes pooled connections; idempotent. */
  close(): Promise<void>
}
