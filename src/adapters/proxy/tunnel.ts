/**
 * A TCP tunnel to host:port through a SOCKS5 or HTTP CONNECT proxy, with a
 * deadline for the whole set-up (reaching the proxy, logging in, the proxy
 * reaching the target). The caller gets a plain socket to speak SSH, FTP or
 * TLS over; a proxy that refuses the credentials is PROXY_AUTH_FAILED.
 *
 * The socket comes back paused, holding whatever the server already sent:
 * its user resumes it (or pipes it) once it listens. A 'data' listener
 * alone does not resume an explicitly paused socket.
 */
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import { SocksClient } from 'socks'
import { BridgeError } from '../../domain/errors.js'
import { describeProxy, type ProxyTarget } from '../../domain/proxy.js'
import { cancelledError, connectionLost, timeoutError } from '../remote/failures.js'

export interface TunnelRequest {
  proxy: ProxyTarget
  host: string
  port: number
  signal?: AbortSignal | undefined
}

export async function openTunnel(request: TunnelRequest): Promise<Socket> {
  const { proxy, signal } = request
  if (signal?.aborted) throw cancelledError(signal)
  const sockets = new Set<Socket>()
  let stopped: BridgeError | undefined
  const stop = (error: BridgeError) => {
    stopped ??= error
    for (const socket of sockets) socket.destroy()
  }
  const timer = setTimeout(
    () => stop(timeoutError(`opening a tunnel through ${describeProxy(proxy)}`, proxy.connectTimeoutMs)),
    proxy.connectTimeoutMs,
  )
  const onAbort = () => stop(cancelledError(signal))
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const socket =
      proxy.kind === 'socks5' ? await socksTunnel(request, sockets) : await connectTunnel(request, sockets)
    if (stopped) {
      socket.destroy()
      throw stopped
    }
    // The handshake read the socket in flowing mode; bytes the server sends before its
    // user listens (an FTP download racing the 150 reply) would be dropped, not buffered.
    socket.pause()
    return socket
  } catch (error) {
    for (const socket of sockets) socket.destroy()
    throw stopped ?? tunnelFailure(request, error)
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

async function socksTunnel(request: TunnelRequest, sockets: Set<Socket>): Promise<Socket> {
  const { proxy } = request
  const raw = connect({ host: proxy.host, port: proxy.port })
  sockets.add(raw)
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', () => {
      raw.off('error', reject)
      resolve()
    })
    raw.once('error', reject)
    raw.once('close', () => reject(connectionLost(`${describeProxy(proxy)} closed the connection`)))
  })
  const { socket } = await SocksClient.createConnection({
    proxy: {
      host: proxy.host,
      port: proxy.port,
      type: 5,
      ...(proxy.username !== undefined ? { userId: proxy.username, password: proxy.password ?? '' } : {}),
    },
    command: 'connect',
    destination: { host: request.host, port: request.port },
    existing_socket: raw,
    // Our own deadline governs; this one only has to be later.
    timeout: proxy.connectTimeoutMs + 1000,
  })
  // socks re-emits bytes read along with its handshake and resumes the socket on the next
  // turn; caught here, they are put back for whoever reads the tunnel next.
  const early: Buffer[] = []
  const keep = (chunk: Buffer) => early.push(chunk)
  socket.on('data', keep)
  await new Promise<void>((resolve) => setImmediate(resolve))
  socket.off('data', keep)
  socket.pause()
  if (early.length > 0) socket.unshift(Buffer.concat(early))
  return socket as Socket
}

async function connectTunnel(request: TunnelRequest, sockets: Set<Socket>): Promise<Socket> {
  const { proxy, host, port } = request
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const headers: Record<string, string> = { host: authority }
  if (proxy.username !== undefined) {
    const token = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64')
    headers['proxy-authorization'] = `Basic ${token}`
  }
  const outgoing = http.request({
    host: proxy.host,
    port: proxy.port,
    method: 'CONNECT',
    path: authority,
    headers,
    agent: false,
  })
  outgoing.on('socket', (socket) => sockets.add(socket))
  return new Promise<Socket>((resolve, reject) => {
    outgoing.once('connect', (res, socket, head) => {
      res.resume()
      if (res.statusCode !== 200) {
        socket.destroy()
        reject(new ProxyAnswer(res.statusCode ?? 0, res.statusMessage ?? ''))
        return
      }
      if (head.length > 0) socket.unshift(head)
      resolve(socket)
    })
    // A proxy that answers CONNECT without upgrading (some send 407 and close) ends up here.
    outgoing.once('response', (res) => {
      res.resume()
      reject(new ProxyAnswer(res.statusCode ?? 0, res.statusMessage ?? ''))
    })
    outgoing.once('error', reject)
    outgoing.end()
  })
}

class ProxyAnswer extends Error {
  constructor(
    readonly status: number,
    statusMessage: string,
  ) {
    super(`proxy answered ${status} ${statusMessage}`.trim())
  }
}

function tunnelFailure(request: TunnelRequest, error: unknown): BridgeError {
  const proxy = describeProxy(request.proxy)
  const target = `${request.host}:${request.port}`
  if (error instanceof BridgeError) return error
  const message = error instanceof Error ? error.message : String(error)
  const authRefused =
    // 407 is the standard answer; tinyproxy answers a refused CONNECT with 401.
    (error instanceof ProxyAnswer && (error.status === 407 || error.status === 401)) ||
    /Socks5 Authentication failed|no accepted authentication type/i.test(message)
  if (authRefused) {
    return new BridgeError(
      'PROXY_AUTH_FAILED',
      `proxy ${proxy} refused the credentials${request.proxy.username ? ` of ${request.proxy.username}` : ' (none configured)'}: ${message}`,
      { details: { proxy } },
    )
  }
  return connectionLost(`through proxy ${proxy} to ${target}: ${message}`, error)
}
