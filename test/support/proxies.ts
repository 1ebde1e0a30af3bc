/**
 * Real proxies from Debian for tests, on ephemeral loopback ports with
 * temporary configs: microsocks (SOCKS5, username/password) and tinyproxy
 * (HTTP CONNECT with BasicAuth). Each one's own log says which targets it
 * connected to, so a test can prove its traffic went through the proxy.
 * .ci/run installs both; see daemons.ts for skipUnlessDaemon.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { acceptsConnections, freePort, spawnDaemon, stopDaemon } from './daemons.js'

export const microsocksPath = '/usr/bin/microsocks'
export const tinyproxyPath = '/usr/bin/tinyproxy'

export interface RunningProxy {
  kind: 'socks5' | 'http'
  /** scheme://127.0.0.1:port, without credentials. */
  url: string
  port: number
  username: string
  password: string
  /** The target ports (127.0.0.1:<port>) the proxy has opened connections to, in order. */
  targets(): Promise<number[]>
  close(): Promise<void>
}

export async function startMicrosocks(username: string, password: string): Promise<RunningProxy> {
  const port = await freePort()
  const child = spawnDaemon(
    microsocksPath,
    ['-i', '127.0.0.1', '-p', String(port), '-u', username, '-P', password],
    'stderr',
  )
  // microsocks writes "client[4] 127.0.0.1: connected to 127.0.0.1:2121" to stderr per tunnel.
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8')
  })
  return running('socks5', port, username, password, child, async () =>
    connectedPorts(log, /connected to [^:\s]+:(\d+)/g),
  )
}

export async function startTinyproxy(username: string, password: string): Promise<RunningProxy> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'tinyproxy-'))
  const logFile = join(dir, 'tinyproxy.log')
  const config = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 120',
    `LogFile "${logFile}"`,
    'LogLevel Connect',
    'MaxClients 100',
    'Allow 127.0.0.1',
    `BasicAuth ${username} ${password}`,
    'DisableViaHeader Yes',
  ]
  await writeFile(join(dir, 'tinyproxy.conf'), `${config.join('\n')}\n`)
  const child = spawnDaemon(tinyproxyPath, ['-d', '-c', join(dir, 'tinyproxy.conf')])
  const proxy = await running('http', port, username, password, child, async () => {
    const log = await readFile(logFile, 'utf8').catch(() => '')
    // "Request (file descriptor 5): CONNECT 127.0.0.1:2121 HTTP/1.1", and plain requests "GET http://127.0.0.1:…/".
    return connectedPorts(
      log,
      /Request \(file descriptor \d+\): (?:CONNECT [^:\s]+|[A-Z]+ https?:\/\/[^:/\s]+):(\d+)/g,
    )
  })
  return {
    ...proxy,
    close: async () => {
      await proxy.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function connectedPorts(log: string, pattern: RegExp): number[] {
  return [...log.matchAll(pattern)].map((match) => Number(match[1]))
}

async function running(
  kind: RunningProxy['kind'],
  port: number,
  username: string,
  password: string,
  child: ChildProcess,
  targets: () => Promise<number[]>,
): Promise<RunningProxy> {
  try {
    await acceptsConnections(port, child)
  } catch (error) {
    await stopDaemon(child)
    throw error
  }
  return {
    kind,
    url: `${kind}://127.0.0.1:${port}`,
    port,
    username,
    password,
    targets,
    close: () => stopDaemon(child),
  }
}
