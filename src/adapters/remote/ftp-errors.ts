/** basic-ftp's failures (FTP replies, socket errors) as BridgeErrors. */
import { FTPError } from 'basic-ftp'
import { BridgeError } from '../../domain/errors.js'
import { connectionLost, transportError } from './failures.js'

export function ftpError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error
  const transport = transportError(error)
  if (transport) return transport
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof FTPError) {
    if (error.code === 530) return new BridgeError('REMOTE_AUTH_FAILED', message, { cause: error })
    if (error.code === 421 || error.code === 425 || error.code === 426) return connectionLost(message, error)
    if (/ENOENT|no such file|not found|does not exist/i.test(message)) {
      return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
    }
    if (/EACCES|EPERM|permission|denied/i.test(message) || error.code === 553) {
      return new BridgeError('REMOTE_PERMISSION_DENIED', message, { cause: error })
    }
    if (error.code === 550) return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
    return new BridgeError('REMOTE_IO', message, { cause: error })
  }
  if (/timeout/i.test(message)) return new BridgeError('TIMEOUT', message, { transient: true, cause: error })
  if (/closed|FIN packet|not connected|socket hang up/i.test(message)) return connectionLost(message, error)
  return new BridgeError('REMOTE_IO', message, { cause: error })
}

export function isReply(error: unknown, ...codes: number[]): boolean {
  return error instanceof FTPError && (codes.length === 0 || codes.includes(error.code))
}
