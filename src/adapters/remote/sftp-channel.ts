/** The ssh2 SFTP channel of a pooled connection: callbacks as promises, status codes as BridgeErrors. */
import { posix } from 'node:path'
import type { Client, SFTPWrapper, Stats } from 'ssh2'
import type SftpClient from 'ssh2-sftp-client'
import { BridgeError } from '../../domain/errors.js'
import type { RemoteEntry } from '../../ports/remote-files.js'
import { connectionLost, transportError } from './failures.js'

export interface SftpConnection {
  readonly client: SftpClient
  readonly sftp: SFTPWrapper
  alive: boolean
}

/** ssh2-sftp-client keeps its ssh2 Client here; its typings do not say so. */
export const sshClientOf = (client: SftpClient): Client => (client as unknown as { client: Client }).client

export const SFTP_STATUS = {
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
} as const
export const S_IFMT = 0o170000

export function call<T>(
  start: (done: (error: Error | undefined | null, value: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(error) : resolve(value)))
    } catch (error) {
      reject(error)
    }
  })
}

export function sftpError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error
  const transport = transportError(error)
  if (transport) return transport
  const message = error instanceof Error ? error.message : String(error)
  switch ((error as { code?: unknown }).code) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
    case SFTP_STATUS.PERMISSION_DENIED:
      return new BridgeError('REMOTE_PERMISSION_DENIED', message, { cause: error })
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return connectionLost(message, error)
  }
  if (/no response from server|not connected|channel (is )?(not open|closed)|not writable/i.test(message)) {
    return connectionLost(message, error)
  }
  return new BridgeError('REMOTE_IO', message, { cause: error })
}

export function entryFromAttrs(path: string, attrs: Stats): RemoteEntry {
  const format = attrs.mode & S_IFMT
  return {
    path,
    name: path === '/' ? '/' : posix.basename(path),
    type: format === 0o040000 ? 'directory' : format === 0o100000 ? 'file' : 'other',
    size: attrs.size,
    modifiedAt: attrs.mtime * 1000,
  }
}
