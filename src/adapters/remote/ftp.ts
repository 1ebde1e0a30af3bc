/**
 * FTP, explicit FTPS (AUTH TLS) and implicit FTPS through basic-ftp: binary
 * mode, passive data connections, MLSD listings where the server offers them
 * (basic-ftp asks FEAT) and LIST otherwise.
 *
 * basic-ftp resumes the control connection's TLS session on every data
 * connection (vsftpd's require_ssl_reuse insists on it);
 * `observeTlsDataConnections` (ftp-connect.ts) logs whether each data connection really did.
 */
import type { Readable } from 'node:stream'
import type { Client } from 'basic-ftp'
import type { Logger } from 'pino'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { RemoteFiles, RemoteOpOptions, TransferOptions } from '../../ports/remote-files.js'
import { fileExists } from './failures.js'
import { connectFtp, ftpConnectSettings } from './ftp-connect.js'
import { ftpError, isReply } from './ftp-errors.js'
import { exists, isDirectory, listDir, statEntry } from './ftp-paths.js'
import { readFile, writeFile } from './ftp-transfer.js'
import { type OperationControl, runOperation } from './operation.js'
import { absolutePath, ancestry } from './paths.js'
import {
  type CloseOptions,
  type ConnectionPool,
  createConnectionPool,
  type RemoteFilesOptions,
} from './pool.js'
import { renameUnsupported } from './sftp.js'

export { ftpError } from './ftp-errors.js'
export { parseFactTime, parseMlstReply } from './ftp-paths.js'

async function renameOnServer(client: Client, from: string, to: string, overwrite: boolean): Promise<void> {
  if (!overwrite) {
    // RNTO replaces an existing file on most servers (vsftpd, ftp-srv, ProFTPD), so
    // the refusal has to be ours; a file created between the check and RNTO is replaced.
    if (await exists(client, to)) throw fileExists(to)
    await client.rename(from, to)
    return
  }
  try {
    await client.rename(from, to)
  } catch (error) {
    // Servers that refuse RNTO onto an existing file get it removed first; `to` is
    // absent between the two. A missing `from` keeps its own error and the target.
    if (!isReply(error) || !(await exists(client, to)) || !(await exists(client, from))) throw error
    await client.remove(to)
    await client.rename(from, to)
  }
}

async function deletePath(client: Client, path: string): Promise<void> {
  try {
    await client.remove(path)
  } catch (error) {
    if (!isReply(error) || !(await isDirectory(client, path))) throw error
    await client.removeEmptyDir(path)
  }
}

async function makeDirectories(client: Client, path: string): Promise<void> {
  if (await isDirectory(client, path)) return
  for (const step of ancestry(path)) {
    if (await isDirectory(client, step)) continue
    try {
      await client.send(`MKD ${step}`)
    } catch (error) {
      // Someone else may have created it in the meantime.
      if (!isReply(error) || !(await isDirectory(client, step))) throw error
    }
  }
}

interface FtpOperations {
  endpoint: EndpointConfig
  logger: Logger
  pool: ConnectionPool<Client>
}

function run<T>(
  ftp: FtpOperations,
  name: string,
  options: RemoteOpOptions | undefined,
  body: (client: Client, control: OperationControl) => Promise<T>,
): Promise<T> {
  return runOperation(
    {
      pool: ftp.pool,
      name: `${name} on ${ftp.endpoint.name}`,
      signal: options?.signal,
      timeoutMs: ftp.endpoint.operationTimeoutMs,
      kill: (client) => client.close(),
      toError: ftpError,
      logger: ftp.logger,
    },
    body,
  )
}

export function createFtpRemoteFiles(
  endpoint: EndpointConfig,
  baseLogger: Logger,
  options: RemoteFilesOptions = {},
): RemoteFiles {
  const logger = baseLogger.child({ endpoint: endpoint.name, protocol: endpoint.protocol })
  const settings = ftpConnectSettings(endpoint, logger)
  const pool = createConnectionPool<Client>({
    name: endpoint.name,
    maxConnections: endpoint.maxConnections,
    ...(options.slots ? { slots: options.slots } : {}),
    idleCloseMs: endpoint.idleCloseMs,
    keepaliveIntervalMs: endpoint.keepaliveIntervalMs,
    create: (signal) => connectFtp(settings, signal),
    isAlive: (client) => !client.closed,
    destroy: async (client) => client.close(),
    ping: async (client) => {
      await client.send('NOOP')
    },
    logger,
  })
  const ftp: FtpOperations = { endpoint, logger, pool }

  return {
    endpoint: endpoint.name,
    resume: endpoint.resume,

    list(dir, options) {
      const path = absolutePath(dir)
      return run(ftp, `list ${path}`, options, async (client) => {
        const entries = await listDir(client, path)
        if (!entries) throw new BridgeError('REMOTE_NOT_FOUND', `no such directory: ${path}`)
        return entries
      })
    },

    stat(target, options) {
      const path = absolutePath(target)
      return run(ftp, `stat ${path}`, options, (client) =>
        statEntry(client, path, options?.modifiedAt !== false),
      )
    },

    read<T>(target: string, consume: (stream: Readable) => Promise<T>, options?: TransferOptions) {
      const path = absolutePath(target)
      return run(ftp, `read ${path}`, options, (client, control) =>
        readFile(client, control, path, consume, options?.offset ?? 0),
      )
    },

    write(target, source, options) {
      const path = absolutePath(target)
      return run(ftp, `write ${path}`, options, (client, control) =>
        writeFile(client, control, path, source, options?.offset ?? 0),
      )
    },

    rename(fromPath, toPath, options) {
      const from = absolutePath(fromPath)
      const to = absolutePath(toPath)
      if (!endpoint.supportsRename) return Promise.reject(renameUnsupported(endpoint.name))
      return run(ftp, `rename ${from}`, options, async (client, control) => {
        control.commit()
        await renameOnServer(client, from, to, Boolean(options?.overwrite))
      })
    },

    delete(target, options) {
      const path = absolutePath(target)
      return run(ftp, `delete ${path}`, options, async (client, control) => {
        control.commit()
        await deletePath(client, path)
      })
    },

    mkdirp(dir, options) {
      const path = absolutePath(dir)
      return run(ftp, `mkdirp ${path}`, options, (client) => makeDirectories(client, path))
    },

    close: (closeOptions?: CloseOptions) => pool.close(closeOptions),
  }
}
