/** Builds the RemoteFiles adapter for an endpoint's protocol. */
import type { Logger } from 'pino'
import type { EndpointConfig } from '../../config/schema.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import { createFtpRemoteFiles } from './ftp.js'
import type { RemoteFilesOptions } from './pool.js'
import { createSftpRemoteFiles } from './sftp.js'

export function createRemoteFiles(
  endpoint: EndpointConfig,
  logger: Logger,
  options: RemoteFilesOptions = {},
): RemoteFiles {
  return endpoint.protocol === 'sftp'
    ? createSftpRemoteFiles(endpoint, logger, options)
    : createFtpRemoteFiles(endpoint, logger, options)
}

export type { RemoteFilesOptions } from './pool.js'

export { fingerprintOf, parseHostKeyPin } from './sftp.js'
