/**
 * An in-process SFTP server for tests and the demo: ssh2's Server with an
 * SFTP subsystem over a local directory, password and public-key logins, a
 * host key made at start, and faults that tests can arm (drop, stall).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { realpath } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import ssh2, { type AuthContext, type Connection } from 'ssh2'
import { faultControls, noArmedFaults } from './armed-faults.js'
import { serveSftp } from './sftp-subsystem.js'

const { Server, utils } = ssh2

export interface SftpSandboxUser {
  username: string
  password?: string
  /** OpenSSH public key line ("ssh-ed25519 AAAA… comment"). */
  publicKey?: string
}

export interface SftpSandboxOptions {
  root: string
  users: SftpSandboxUser[]
  port?: number
  host?: string
}

export interface SftpSandboxFaults {
  /** The next connection to move at least `bytes` file bytes (read or written) is cut off. */
  dropAfterBytes(bytes: number): void
  /** The next `count` SFTP requests are never answered. */
  stall(count: number): void
}

export interface SftpSandbox {
  host: string
  port: number
  /** "SHA256:<base64>", as ssh-keygen -l prints it. */
  hostKeySha256: string
  hostPublicKey: string
  faults: SftpSandboxFaults
  connectionCount(): number
  maxConcurrentConnections(): number
  close(): Promise<void>
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/**
 * ssh2's generateKeyPairSync('ed25519') drops a leading zero byte of the key now and then
 * (about 1 in 200 keys), leaving a key ssh2 itself cannot parse; such keys are drawn again.
 */
export function generateSshKeyPair(encryption?: { passphrase: string; cipher: string; rounds: number }): {
  private: string
  public: string
} {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', encryption ?? {})
    const parsed = utils.parseKey(pair.private, encryption?.passphrase)
    if (!(parsed instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair
  }
}

function accepts(users: SftpSandboxUser[], ctx: AuthContext): boolean {
  const user = users.find((candidate) => candidate.username === ctx.username)
  if (!user) return false
  if (ctx.method === 'password') return user.password !== undefined && sameSecret(ctx.password, user.password)
  if (ctx.method !== 'publickey' || !user.publicKey) return false
  const allowed = utils.parseKey(user.publicKey)
  if (allowed instanceof Error || !ctx.key.data.equals(allowed.getPublicSSH())) return false
  // Without a signature the client only asks whether this key would do.
  if (!ctx.signature || !ctx.blob) return true
  return allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true
}

export async function startSftpServer(options: SftpSandboxOptions): Promise<SftpSandbox> {
  const host = options.host ?? '127.0.0.1'
  const realRoot = await realpath(options.root)
  const hostKey = generateSshKeyPair()
  const parsedHostKey = utils.parseKey(hostKey.public)
  if (parsedHostKey instanceof Error) throw parsedHostKey
  const hostKeySha256 = `SHA256:${createHash('sha256').update(parsedHostKey.getPublicSSH()).digest('base64').replace(/=+$/, '')}`

  const sockets = new Set<Socket>()
  let accepted = 0
  let peak = 0
  const faults = noArmedFaults()

  function authenticate(ctx: AuthContext): void {
    if (accepts(options.users, ctx)) ctx.accept()
    else ctx.reject(['password', 'publickey'])
  }

  const byRemotePort = new Map<number, Socket>()
  const sshServer = new Server({ hostKeys: [hostKey.private] }, (client: Connection, info) => {
    const socket = byRemotePort.get(info.port)
    if (!socket) return client.end()
    client.on('error', () => undefined)
    client.on('authentication', authenticate)
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession()
        session.on('sftp', (acceptSftp) => serveSftp(acceptSftp(), socket, realRoot, faults))
      })
    })
  })

  const tcp = createServer((socket) => {
    accepted++
    sockets.add(socket)
    peak = Math.max(peak, sockets.size)
    const remotePort = socket.remotePort ?? 0
    byRemotePort.set(remotePort, socket)
    socket.on('close', () => {
      sockets.delete(socket)
      if (byRemotePort.get(remotePort) === socket) byRemotePort.delete(remotePort)
    })
    socket.on('error', () => undefined)
    sshServer.injectSocket(socket)
  })
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(options.port ?? 0, host, () => resolve())
  })
  const address = tcp.address()
  if (!address || typeof address === 'string') throw new Error('SFTP sandbox has no TCP address')

  let closing: Promise<void> | undefined
  return {
    host,
    port: address.port,
    hostKeySha256,
    hostPublicKey: hostKey.public,
    faults: faultControls(faults),
    connectionCount: () => accepted,
    maxConcurrentConnections: () => peak,
    close() {
      closing ??= new Promise<void>((resolve) => {
        tcp.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      })
      return closing
    },
  }
}
