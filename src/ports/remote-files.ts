import type { Readable } from 'node:stream'
import type { EndpointConfig } from '../config/schema.js'

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

export interface TransferOptions extends RemoteOpOptions {
  /**
   * Read: start at this byte (SFTP reads at the offset, FTP sends REST).
   * Write: keep the file's first `offset` bytes and write after them (SFTP
   * writes at the offset without truncating; FTP appends with APPE, so the
   * file must hold exactly `offset` bytes: REST before STOR truncates on
   * some servers). Default 0: the whole file.
   */
  offset?: number
}

/** Whether and how often a transfer cut mid-file continues where it stopped (the endpoint's `resume`). */
export interface ResumePolicy {
  enabled: boolean
  /** Continuations allowed within one attempt; past them the attempt fails as before. */
  maxPerAttempt: number
  /** Backoff before each reconnect: full jitter, doubling from baseDelayMs up to maxDelayMs. */
  baseDelayMs: number
  maxDelayMs: number
}

export interface StatOptions extends RemoteOpOptions {
  /**
   * false: the caller needs no modification time (an existence or size
   * check), so a server that would take another round trip for it (FTP's
   * MDTM) is not asked and the entry says 0.
   */
  modifiedAt?: boolean
}

export interface RenameOptions extends RemoteOpOptions {
  /**
   * Replace an existing `to`. Without it a rename onto an existing file fails
   * with FILE_EXISTS on every server, whatever the protocol would do.
   */
  overwrite?: boolean
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
  /** The endpoint's resume policy; absent: transfers are never continued, only restarted. */
  readonly resume?: ResumePolicy
  /**
   * How far below the size a server reports after a cut write its file may still have a hole:
   * write requests in flight at the cut (SFTP pipelines them; a server may apply them out of
   * order). A resumed write starts this much lower. Absent: the bytes arrive in order (FTP).
   */
  readonly unorderedWriteBytes?: number
  /** One directory level. Missing directory → REMOTE_NOT_FOUND. */
  list(dir: string, options?: RemoteOpOptions): Promise<RemoteEntry[]>
  /** null when the path does not exist. */
  stat(path: string, options?: StatOptions): Promise<RemoteEntry | null>
  /**
   * Streams the file to `consume`; the connection stays checked out until
   * `consume` settles, so FTP's one-transfer-per-connection rule holds.
   */
  read<T>(path: string, consume: (stream: Readable) => Promise<T>, options?: TransferOptions): Promise<T>
  /** Writes `source` to `path` (overwriting, or after `offset`), resolving with the bytes written. */
  write(path: string, source: Readable, options?: TransferOptions): Promise<{ bytes: number }>
  /**
   * Renames; fails if the endpoint cannot rename (supportsRename false).
   * An existing `to` → FILE_EXISTS, unless `overwrite`: then SFTP replaces it
   * atomically with posix-rename@openssh.com where the server offers it and
   * otherwise deletes it first (a short window in which `to` is absent); FTP
   * relies on RNTO replacing it and deletes it first where the server refuses.
   * Without `overwrite` the existence check and the rename are two requests:
   * a file created at `to` in between may still be replaced on servers whose
   * rename overwrites (FTP, some SFTP servers).
   */
  rename(from: string, to: string, options?: RenameOptions): Promise<void>
  delete(path: string, options?: RemoteOpOptions): Promise<void>
  /** mkdir -p: creates missing parents, succeeds if it exists. */
  mkdirp(dir: string, options?: RemoteOpOptions): Promise<void>
  /** Closes pooled connections; idempotent. */
  close(): Promise<void>
}

/** The remote file servers the engines talk to, looked up by endpoint name. */
export interface RemoteRegistry {
  get(endpoint: string): RemoteFiles
  /**
   * The endpoints and pools in force now, held for one run until release():
   * a configuration reload retires a changed endpoint's pool only once the
   * runs holding it have ended. Absent: the registry never changes.
   */
  pin?(): PinnedRemotes
}

export interface PinnedRemotes {
  remotes: RemoteRegistry
  endpoints: ReadonlyMap<string, EndpointConfig>
  release(): void
}
