/**
 * FTP and FTPS through a proxy. basic-ftp dials its sockets itself, so the
 * control connection is a tunnel handed to it as its socket, and every data
 * connection comes from a passive-mode strategy of ours that opens one more
 * tunnel to the port the server named (the server's address in a PASV answer
 * is ignored: behind a proxy only the endpoint's host name means anything).
 * FTPS runs TLS over the tunnels, resuming the control connection's session
 * on data connections as basic-ftp does.
 */
import { type ConnectionOptions, TLSSocket, connect as tlsConnect } from 'node:tls'
import type { Client, FTPContext, FTPResponse } from 'basic-ftp'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { type ProxyTarget, proxyTarget } from '../../domain/proxy.js'
import { openTunnel } from '../proxy/tunnel.js'

/** The data port of an EPSV ("229 … (|||6446|)") or PASV ("227 … (h1,h2,h3,h4,p1,p2)") answer. */
export function passivePort(message: string): number | undefined {
  const epsv = /[|!]{3}(\d+)[|!]/.exec(message)
  if (epsv) return Number(epsv[1])
  const pasv = /(?<![-\d])\d+,\d+,\d+,\d+,(\d+),(\d+)/.exec(message)
  if (!pasv) return undefined
  return (Number(pasv[1]) & 255) * 256 + (Number(pasv[2]) & 255)
}

/** Asks for a passive port (EPSV, then PASV) and opens the data connection through the proxy. */
export function passiveThroughProxy(proxy: ProxyTarget, host: string) {
  return async (ftp: FTPContext): Promise<FTPResponse> => {
    let answer: FTPResponse
    try {
      answer = await ftp.request('EPSV')
    } catch (error) {
      if (ftp.closed) throw error
      answer = await ftp.request('PASV')
    }
    const port = passivePort(answer.message)
    if (port === undefined) {
      throw new BridgeError('REMOTE_IO', `cannot read the passive port from "${answer.message.trim()}"`)
    }
    const raw = await openTunnel({ proxy, host, port })
    if (ftp.socket instanceof TLSSocket) {
      raw.resume()
      const control = ftp.socket
      const data = tlsConnect({
        ...ftp.tlsOptions,
        socket: raw,
        session: ftp.tlsSessionStore ?? control.getSession(),
      })
      data.on('session', (session: Buffer) => {
        ftp.tlsSessionStore = session
      })
      ftp.dataSocket = data
    } else {
      ftp.dataSocket = raw
    }
    return answer
  }
}

/** What accessThroughProxy needs of the connect settings (ftp-connect.ts). */
export interface ProxiedAccess {
  endpoint: EndpointConfig
  secure: boolean | 'implicit'
  port: number
  secureOptions: ConnectionOptions
}

/**
 * basic-ftp's access() over a tunnel: welcome, AUTH TLS (explicit), login,
 * default settings; then data connections through the proxy too.
 */
export async function accessThroughProxy(
  client: Client,
  settings: ProxiedAccess,
  signal: AbortSignal | undefined,
): Promise<FTPResponse> {
  const { endpoint, secure } = settings
  const tlsOptions: ConnectionOptions = { ...settings.secureOptions, host: endpoint.host }
  const welcome = await connectThroughProxy(client, settings, tlsOptions, signal)
  if (secure === true) await client.useTLS(tlsOptions)
  await client.sendIgnoringError('OPTS UTF8 ON')
  await client.login(endpoint.username, endpoint.password ?? '')
  await client.useDefaultSettings()
  return welcome
}

/**
 * The control connection through the endpoint's proxy, up to the server's
 * welcome (implicit TLS included, AUTH TLS not yet); data connections will
 * go through the proxy too.
 */
export async function connectThroughProxy(
  client: Client,
  settings: Omit<ProxiedAccess, 'secureOptions'>,
  tlsOptions: ConnectionOptions,
  signal: AbortSignal | undefined,
): Promise<FTPResponse> {
  const { endpoint, secure } = settings
  if (!endpoint.proxy) throw new BridgeError('INTERNAL', `endpoint ${endpoint.name} has no proxy`)
  const proxy = proxyTarget(endpoint.proxy)
  const tunnel = await openTunnel({ proxy, host: endpoint.host, port: settings.port, signal })
  client.ftp.reset()
  if (secure === 'implicit') {
    // The identity a TLS session is bound to (and checked against) is the endpoint's name, not the tunnel's.
    client.ftp.socket = tlsConnect({ ...tlsOptions, host: endpoint.host, socket: tunnel })
    client.ftp.tlsOptions = { ...tlsOptions, host: endpoint.host }
  } else {
    client.ftp.socket = tunnel
  }
  tunnel.resume()
  client.prepareTransfer = passiveThroughProxy(proxy, endpoint.host)
  return welcomeOf(client.ftp)
}

/** The server's first reply on a connection basic-ftp did not dial (its own _handleConnectResponse). */
function welcomeOf(ftp: FTPContext): Promise<FTPResponse> {
  return ftp.handle(undefined, (res, task) => {
    if (res instanceof Error) task.reject(res)
    else if (res.code >= 200 && res.code < 300) task.resolve(res)
    else task.reject(new BridgeError('REMOTE_IO', `the server greeted with ${res.message.trim()}`))
  })
}
