/**
 * Running the real OpenSSH sshd and vsftpd from Debian in tests: where they
 * live, whether they can run here, and the small process helpers. In CI
 * (`CI=true`) .ci/run installs both, so their absence there is a failure,
 * not a reason to pass over the interop cases.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { type AddressInfo, connect, createServer } from 'node:net'

export const sshdPath = '/usr/sbin/sshd'
export const vsftpdPath = '/usr/sbin/vsftpd'
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

export async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
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
