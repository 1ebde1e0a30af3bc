/**
 * Running the real OpenSSH sshd, vsftpd and pure-ftpd from Debian in tests:
 * where they live, whether they can run here, and the small process helpers.
 * In CI (`CI=true`) .ci/run installs all three, so their absence there is a
 * failure, not a reason to pass over the interop cases.
 *
 * pure-ftpd conflicts with vsftpd as a Debian package (both provide
 * ftp-server), so .ci/run unpacks its .deb with `dpkg -x` into
 * PURE_FTPD_ROOT (default /opt/pure-ftpd) instead of installing it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { type AddressInfo, connect, createServer } from 'node:net'
import { join } from 'node:path'

export const sshdPath = '/usr/sbin/sshd'
export const vsftpdPath = '/usr/sbin/vsftpd'
export const pureFtpdRoot = process.env.PURE_FTPD_ROOT ?? '/opt/pure-ftpd'
export const pureFtpdPath = join(pureFtpdRoot, 'usr/sbin/pure-ftpd')
export const purePwPath = join(pureFtpdRoot, 'usr/bin/pure-pw')
const asRoot = process.getuid?.() === 0

/** Why a daemon cannot run here, or null when it can. */
export function daemonUnavailable(path: string): string | null {
  if (!existsSync(path)) return `${path} is not installed`
  if (!asRoot) return `${path} needs root to run on loopback with its own config`
  return null
}

/** A tap `skip` option: skip outside CI only; in CI a missing daemon must fail the run. */
export function skipUnlessDaemon(path: string): string | false {
  const reason = daemonUnavailable(path)
  if (reason && process.env.CI === 'true')
    throw new Error(`CI needs ${path}: ${reason} (.ci/run installs it)`)
  return reason ?? false
}

export async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/**
 * Starts a daemon in its own process group, so that stopDaemon also ends the
 * per-connection processes it forks (vsftpd, pure-ftpd and sshd all do).
 */
export function spawnDaemon(
  path: string,
  args: string[],
  stdio: 'ignore' | 'stderr' = 'ignore',
): ChildProcess {
  return spawn(path, args, {
    detached: true,
    stdio: ['ignore', 'ignore', stdio === 'stderr' ? 'pipe' : 'ignore'],
  })
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

/** Stops the daemon and, if it leads a process group (spawnDaemon), everything left in that group. */
export async function stopDaemon(child: ChildProcess): Promise<void> {
  const pid = child.pid
  const running = child.exitCode === null && child.signalCode === null
  const exited = running ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve()
  if (pid !== undefined && groupAlive(pid)) {
    process.kill(-pid, 'SIGTERM')
    for (let waited = 0; groupAlive(pid); waited += 25) {
      if (waited >= 3000) process.kill(-pid, 'SIGKILL')
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  } else if (running) child.kill('SIGTERM')
  await exited
}

/** Resolves once the daemon accepts TCP connections; vsftpd prints nothing when ready. */
export async function acceptsConnections(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`nothing listens on ${port}`)
}
