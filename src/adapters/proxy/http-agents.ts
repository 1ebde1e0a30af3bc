/**
 * HTTP(S) calls to Salesforce and S3 through a proxy: a dispatcher for
 * fetch (Salesforce) and an agent for node:http(s) (S3), both opening their
 * connections as tunnels (openTunnel), so SOCKS5 and HTTP CONNECT proxies
 * work the same way and TLS runs end to end with the real server.
 * Which proxy applies is domain/proxy.ts's httpProxyFor.
 */
import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import { type Dispatcher, Agent as UndiciAgent } from 'undici'
import type { ProxyConfig } from '../../config/proxy-schema.js'
import { BridgeError } from '../../domain/errors.js'
import { describeProxy, httpProxyFor, type ProxyEnvironment, type ProxyTarget } from '../../domain/proxy.js'
import { openTunnel } from './tunnel.js'

/** One dispatcher / agent per proxy, so connections through it are pooled and reused. */
const dispatchers = new Map<string, Dispatcher>()
const agents = new Map<string, http.Agent>()

function keyOf(proxy: ProxyTarget, protocol: string): string {
  return `${protocol}|${describeProxy(proxy)}|${proxy.username ?? ''}|${proxy.password ?? ''}`
}

/** The fetch `dispatcher` for a call to `url`; undefined: no proxy applies, fetch goes direct. */
export function proxyDispatcher(
  url: string,
  configured: ProxyConfig | undefined,
  env: ProxyEnvironment = process.env,
): Dispatcher | undefined {
  const target = httpProxyFor(new URL(url), configured, env)
  if (!target) return undefined
  const key = keyOf(target, 'fetch')
  let dispatcher = dispatchers.get(key)
  if (!dispatcher) {
    dispatcher = new UndiciAgent({
      connect: (options, callback) => {
        const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80)
        tunnelled(target, options.hostname, port, options.protocol === 'https:', options.servername)
          .then((socket) => callback(null, socket))
          .catch((error: Error) => callback(error, null))
      },
    })
    dispatchers.set(key, dispatcher)
  }
  return dispatcher
}

/** The node:http(s) `agent` for a request to `url`; undefined: no proxy applies. */
export function proxyAgent(
  url: string,
  configured: ProxyConfig | undefined,
  env: ProxyEnvironment = process.env,
): http.Agent | undefined {
  const parsed = new URL(url)
  const target = httpProxyFor(parsed, configured, env)
  if (!target) return undefined
  const secure = parsed.protocol === 'https:'
  const key = keyOf(target, parsed.protocol)
  let agent = agents.get(key)
  if (!agent) {
    agent = secure ? new TunnelHttpsAgent(target) : new TunnelHttpAgent(target)
    agents.set(key, agent)
  }
  return agent
}

type ConnectCallback = ((error: Error | null, socket: Duplex) => void) | undefined

interface AgentConnectOptions {
  host?: string | null
  hostname?: string | null
  port?: number | string | null
  servername?: string
}

function agentConnect(
  proxy: ProxyTarget,
  secure: boolean,
  options: AgentConnectOptions,
  callback: ConnectCallback,
): undefined {
  const host = options.hostname ?? options.host ?? 'localhost'
  const port = Number(options.port) || (secure ? 443 : 80)
  tunnelled(proxy, host, port, secure, options.servername)
    .then((socket) => callback?.(null, socket))
    .catch((error: Error) => callback?.(error, undefined as unknown as Duplex))
  return undefined
}

// node:http calls createConnection(options, callback) and waits for the callback when nothing is returned.
class TunnelHttpAgent extends http.Agent {
  constructor(private readonly proxy: ProxyTarget) {
    super({ keepAlive: true })
  }
  override createConnection(options: AgentConnectOptions, callback: ConnectCallback): undefined {
    return agentConnect(this.proxy, false, options, callback)
  }
}

class TunnelHttpsAgent extends https.Agent {
  constructor(private readonly proxy: ProxyTarget) {
    super({ keepAlive: true })
  }
  override createConnection(options: AgentConnectOptions, callback: ConnectCallback): undefined {
    return agentConnect(this.proxy, true, options, callback)
  }
}

/** A tunnel to host:port, with TLS to the server itself on top for https. */
async function tunnelled(
  proxy: ProxyTarget,
  host: string,
  port: number,
  secure: boolean,
  servername: string | null | undefined,
): Promise<Socket> {
  const raw = await openTunnel({ proxy, host, port })
  raw.resume()
  if (!secure) return raw
  const name = servername || host
  const socket = tlsConnect({
    socket: raw,
    host: name,
    ...(isIP(name) ? {} : { servername: name }),
    ALPNProtocols: ['http/1.1'],
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', reject)
  })
  return socket
}

/** A PROXY_AUTH_FAILED somewhere in the causes of a failed call (fetch wraps ours in "fetch failed"). */
export function proxyAuthFailure(error: unknown): BridgeError | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof BridgeError && current.code === 'PROXY_AUTH_FAILED') return current
    current = current.cause
  }
  return undefined
}
