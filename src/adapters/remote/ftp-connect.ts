/** Opening and logging in an FTP/FTPS control connection with basic-ftp. */
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { Client } from 'basic-ftp'
import type { Logger } from 'pino'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { cancelledError, timeoutError } from './failures.js'
import { ftpError } from './ftp-errors.js'
import { accessThroughProxy } from './ftp-proxy.js'
import { parseListKeepingLineBreaks } from './list-lines.js'

export interface FtpConnectSettings {
  endpoint: EndpointConfig
  logger: Logger
  secure: boolean | 'implicit'
  port: number
  secureOptions: ConnectionOptions
}

/** Settles once the current TLS data connection finished its handshake (or closed). */
const dataHandshakes = new WeakMap<Client, Promise<void>>()

export function tlsDataHandshake(client: Client): Promise<void> | undefined {
  return dataHandshakes.get(client)
}

export function ftpConnectSettings(endpoint: EndpointConfig, logger: Logger): FtpConnectSettings {
  const secure = endpoint.protocol === 'ftp' ? false : endpoint.protocol === 'ftps' ? true : 'implicit'
  const tls = endpoint.tls ?? { rejectUnauthorized: true }
  return {
    endpoint,
    logger,
    secure,
    port: endpoint.port ?? (secure === 'implicit' ? 990 : 21),
    secureOptions: {
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
      ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    },
  }
}

function observeTlsDataConnections(client: Client, logger: Logger): void {
  let strategy = client.prepareTransfer
  // basic-ftp swaps in the first strategy that works, so wrap whatever it installs.
  Object.defineProperty(client, 'prepareTransfer', {
    configurable: true,
    get: () => async (ftp: Client['ftp']) => {
      const reply = await strategy(ftp)
      const socket = ftp.dataSocket as TLSSocket | undefined
      if (socket && typeof socket.isSessionReused === 'function') {
        const handshake = new Promise<void>((resolve) => {
          socket.once('close', () => resolve())
          socket.once('secureConnect', () => {
            resolve()
            const reused = socket.isSessionReused()
            if (reused)
              logger.debug({ tlsSessionReused: true }, 'FTPS data connection resumed the TLS session')
            else
              logger.warn({ tlsSessionReused: false }, 'FTPS data connection did not resume the TLS session')
          })
        })
        dataHandshakes.set(client, handshake)
      }
      return reply
    },
    set: (next: Client['prepareTransfer']) => {
      strategy = next
    },
  })
}

export async function connectFtp(
  settings: FtpConnectSettings,
  signal: AbortSignal | undefined,
): Promise<Client> {
  const { endpoint, logger, secure } = settings
  const client = new Client(endpoint.operationTimeoutMs)
  client.ftp.encoding = endpoint.fileNameEncoding ?? 'utf8'
  const parseList = client.parseList
  client.parseList = (rawList) => parseListKeepingLineBreaks(rawList, parseList)
  if (secure) observeTlsDataConnections(client, logger)
  let stopped: BridgeError | undefined
  const stop = (error: BridgeError) => {
    stopped ??= error
    client.close()
  }
  const onAbort = () => stop(cancelledError(signal))
  signal?.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(
    () => stop(timeoutError(`connecting to ${endpoint.name}`, endpoint.connectTimeoutMs)),
    endpoint.connectTimeoutMs,
  )
  try {
    if (signal?.aborted) throw cancelledError(signal)
    if (endpoint.proxy) await accessThroughProxy(client, settings, signal)
    else
      await client.access({
        host: endpoint.host,
        port: settings.port,
        user: endpoint.username,
        password: endpoint.password ?? '',
        secure,
        secureOptions: { ...settings.secureOptions },
      })
    logger.debug('ftp connection opened')
    return client
  } catch (error) {
    client.close()
    if (stopped) throw stopped
    const mapped = ftpError(error)
    if (mapped.code === 'REMOTE_AUTH_FAILED') {
      throw new BridgeError('REMOTE_AUTH_FAILED', `login to ${endpoint.name} failed: ${mapped.message}`, {
        cause: error,
      })
    }
    throw mapped
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}
