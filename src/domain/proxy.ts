/**
 * Which proxy a connection goes through, and how to speak to it: pure
 * parsing of proxy URLs and of the HTTPS_PROXY / HTTP_PROXY / NO_PROXY
 * conventions (curl's reading: a NO_PROXY entry matches the host and its
 * subdomains, `*` matches everything, an entry may carry a port).
 */
import type { ProxyConfig } from '../config/proxy-schema.js'
import { BridgeError } from './errors.js'

export interface ProxyTarget {
  kind: 'socks5' | 'http'
  host: string
  port: number
  username?: string
  password?: string
  connectTimeoutMs: number
}

const DEFAULT_PROXY_TIMEOUT_MS = 15_000

/** A configured proxy, or a URL from the environment (credentials may sit in its user info). */
export function proxyTarget(proxy: Pick<ProxyConfig, 'url'> & Partial<ProxyConfig>): ProxyTarget {
  let url: URL
  try {
    url = new URL(proxy.url)
  } catch {
    throw new BridgeError('CONFIG_INVALID', `proxy URL ${redactedProxyUrl(proxy.url)} is not a URL`)
  }
  const scheme = url.protocol.replace(/:$/, '')
  const kind = scheme === 'socks5' || scheme === 'socks5h' ? 'socks5' : scheme === 'http' ? 'http' : undefined
  if (!kind) {
    throw new BridgeError('CONFIG_INVALID', `proxy URL scheme ${scheme} is not socks5 or http`)
  }
  const username = proxy.username ?? (url.username ? decodeURIComponent(url.username) : undefined)
  const password = proxy.password ?? (url.password ? decodeURIComponent(url.password) : undefined)
  return {
    kind,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : kind === 'socks5' ? 1080 : 3128,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    connectTimeoutMs: proxy.connectTimeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS,
  }
}

/** "scheme://host:port" of a proxy, without credentials: what logs and messages show. */
export function describeProxy(target: ProxyTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host
  return `${target.kind}://${host}:${target.port}`
}

function redactedProxyUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[redacted]@')
}

export type ProxyEnvironment = Readonly<Record<string, string | undefined>>

function envValue(env: ProxyEnvironment, name: string): string | undefined {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

/** Whether NO_PROXY says `url`'s host is reached directly. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  return noProxy
    .split(/[\s,]+/)
    .filter((entry) => entry !== '')
    .some((raw) => {
      if (raw === '*') return true
      const entry = raw.toLowerCase()
      const portMatch = /^(.*):(\d+)$/.exec(entry)
      const name = (portMatch ? portMatch[1] : entry)?.replace(/^\*?\./, '').replace(/^\[(.*)\]$/, '$1') ?? ''
      if (portMatch && portMatch[2] !== port) return false
      return host === name || host.endsWith(`.${name}`)
    })
}

/**
 * The proxy for an HTTP(S) call to `url`: the configured one, else
 * HTTPS_PROXY (https URLs) or HTTP_PROXY (http URLs); none when NO_PROXY
 * names the host.
 */
export function httpProxyFor(
  url: URL,
  configured: ProxyConfig | undefined,
  env: ProxyEnvironment,
): ProxyTarget | undefined {
  if (bypassesProxy(url, envValue(env, 'no_proxy'))) return undefined
  if (configured) return proxyTarget(configured)
  const fromEnv = envValue(env, url.protocol === 'https:' ? 'https_proxy' : 'http_proxy')
  return fromEnv ? proxyTarget({ url: fromEnv.includes('://') ? fromEnv : `http://${fromEnv}` }) : undefined
}
