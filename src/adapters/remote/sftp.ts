/**
 * SFTP through ssh2-sftp-client (connection set-up) and its ssh2 SFTP channel
 * (operations). The channel is used directly because it reports SFTP status
 * codes and file modes, and lets transfers stream with our own flow control.
 */
import type { Logger } from 'pino'
import type { Stats } from 'ssh2'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { RemoteFiles, RemoteOpOptions } from '../../ports/remote-files.js'
import { type OperationControl, runOperation } from './operation.js'
import { absolutePath, childPath } from './paths.js'
import {
  type CloseOptions,
  type ConnectionPool,
  createConnectionPool,
  type RemoteFilesOptions,
} from './pool.js'
import { call, entryFromAttrs, type SftpConnection, sftpError, sshClientOf } from './sftp-channel.js'
import {
  closeSftpConnection,
  connectSftp,
  parseHostKeyPins,
  type SftpConnectSettings,
} from './sftp-connect.js'
import { deletePath, makeDirectories, renamePath, statOrNull } from './sftp-paths.js'
import { readFile } from './sftp-read.js'
import { SFTP_UNORDERED_WRITE_BYTES, writeFile } from './sftp-write.js'

export { fingerprintOf, parseHostKeyPin, parseHostKeyPins } from './sftp-connect.js'

interface SftpOperations {
  endpoint: EndpointConfig
  logger: Logger
  pool: ConnectionPool<SftpConnection>
}

function run<T>(
  ops: SftpOperations,
  name: string,
  options: RemoteOpOptions | undefined,
  body: (conn: SftpConnection, control: OperationControl) => Promise<T>,
): Promise<T> {
  return runOperation(
    {
      pool: ops.pool,
      name: `${name} on ${ops.endpoint.name}`,
      signal: options?.signal,
      timeoutMs: ops.endpoint.operationTimeoutMs,
      kill: (conn) => {
        conn.alive = false
        sshClientOf(conn.client).destroy()
      },
      toError: sftpError,
      logger: ops.logger,
    },
    body,
  )
}

export function createSftpRemoteFiles(
  endpoint: EndpointConfig,
  baseLogger: Logger,
  options: RemoteFilesOptions = {},
): RemoteFiles {
  const logger = baseLogger.child({ endpoint: endpoint.name, protocol: 'sftp' })
  const pins = parseHostKeyPins(endpoint.hostKeySha256)
  if (pins.length === 0 && endpoint.insecureSkipHostKeyCheck) {
    logger.warn('host key verification is disabled for this endpoint (insecureSkipHostKeyCheck)')
  }
  const settings: SftpConnectSettings = { endpoint, logger, pins }
  const pool = createConnectionPool<SftpConnection>({
    name: endpoint.name,
    maxConnections: endpoint.maxConnections,
    ...(options.slots ? { slots: options.slots } : {}),
    idleCloseMs: endpoint.idleCloseMs,
    keepaliveIntervalMs: endpoint.keepaliveIntervalMs,
    create: (signal) => connectSftp(settings, signal),
    isAlive: (conn) => conn.alive,
    destroy: closeSftpConnection,
    logger,
  })
  const ops: SftpOperations = { endpoint, logger, pool }

  return {
    endpoint: endpoint.name,
    resume: endpoint.resume,
    unorderedWriteBytes: SFTP_UNORDERED_WRITE_BYTES,

    list(dir, options) {
      const path = absolutePath(dir)
      return run(ops, `list ${path}`, options, async ({ sftp }) => {
        const items = await call<{ filename: string; attrs: Stats }[]>((done) => sftp.readdir(path, done))
        return items
          .filter((item) => item.filename !== '.' && item.filename !== '..')
          .map((item) => entryFromAttrs(childPath(path, item.filename), item.attrs))
      })
    },

    stat(target, options) {
      const path = absolutePath(target)
      return run(ops, `stat ${path}`, options, async ({ sftp }) => {
        const attrs = await statOrNull(sftp, path)
        return attrs ? entryFromAttrs(path, attrs) : null
      })
    },

    read(target, consume, options) {
      const path = absolutePath(target)
      return run(ops, `read ${path}`, options, ({ sftp }, control) =>
        readFile(sftp, control, path, consume, options?.offset ?? 0),
      )
    },

    write(target, source, options) {
      const path = absolutePath(target)
      return run(ops, `write ${path}`, options, ({ sftp }, control) =>
        writeFile(sftp, control, path, source, options?.offset ?? 0),
      )
    },

    rename(fromPath, toPath, options) {
      const from = absolutePath(fromPath)
      const to = absolutePath(toPath)
      if (!endpoint.supportsRename) return Promise.reject(renameUnsupported(endpoint.name))
      return run(ops, `rename ${from}`, options, async ({ sftp }, control) => {
        control.commit()
        await renamePath(sftp, from, to, Boolean(options?.overwrite))
      })
    },

    delete(target, options) {
      const path = absolutePath(target)
      return run(ops, `delete ${path}`, options, async ({ sftp }, control) => {
        control.commit()
        await deletePath(sftp, path)
      })
    },

    mkdirp(dir, options) {
      const path = absolutePath(dir)
      return run(ops, `mkdirp ${path}`, options, ({ sftp }) => makeDirectories(sftp, path))
    },

    close: (closeOptions?: CloseOptions) => pool.close(closeOptions),
  }
}

export function renameUnsupported(name: string): BridgeError {
  return new BridgeError(
    'REMOTE_PERMISSION_DENIED',
    `endpoint ${name} is configured without rename support`,
    {
      details: { reason: 'rename-unsupported' },
    },
  )
}
