/**
 * Starting the real daemons with their own config on loopback, on ephemeral
 * ports: OpenSSH sshd (internal-sftp, chrooted), vsftpd and pure-ftpd (run
 * from its unpacked .deb, see daemons.ts). Used by the remote-files contract
 * suite and the interop suite; each starter reports the version the daemon
 * itself gives. Not a test file.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { fingerprintOf } from '../../src/adapters/remote/index.js'
import { generateSshKeyPair } from '../../src/sandbox/sftp-server.js'
import { serverCertPath, serverKeyPath } from '../../src/sandbox/tls/index.js'
import {
  acceptsConnections,
  freePort,
  pureFtpdPath,
  purePwPath,
  spawnDaemon,
  sshdPath,
  stopDaemon,
  vsftpdPath,
} from './daemons.js'

export interface RunningDaemon {
  host: string
  port: number
  /** What the daemon says it is (its greeting, or its --help / -V line). */
  version: string
  close(): Promise<void>
}

export interface LocalAccount {
  name: string
  password: string
}

/**
 * A local account for the daemons that log in system users (vsftpd, sshd
 * with a password). Each test file uses its own name: tap runs files in
 * parallel, and each sets a fresh random password.
 */
export function localAccount(name: string): LocalAccount {
  return { name, password: randomBytes(12).toString('base64url') }
}

/** The contract suite's account. */
export const testUser = localAccount('sdrivebridgetest')

/** useradd/usermod/chpasswd fail while another process holds /etc/passwd's lock: try again. */
function accountCommand(command: string, args: string[], input?: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(command, args, { stdio: ['pipe', 'ignore', 'pipe'], ...(input ? { input } : {}) })
      return
    } catch (error) {
      if (attempt >= 20 || !/lock/i.test(String((error as { stderr?: Buffer }).stderr))) throw error
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    }
  }
}

/** Creates (once) the account and sets its password; home: vsftpd must chdir there. */
export function ensureTestUser(account: LocalAccount = testUser): { uid: number; gid: number } {
  try {
    execFileSync('id', [account.name], { stdio: 'ignore' })
  } catch {
    accountCommand('useradd', [
      '--no-create-home',
      '--home-dir',
      tmpdir(),
      '--shell',
      '/bin/bash',
      account.name,
    ])
  }
  accountCommand('usermod', ['--home', tmpdir(), account.name])
  accountCommand('chpasswd', [], `${account.name}:${account.password}\n`)
  const id = (flag: string) => Number(execFileSync('id', [flag, account.name]).toString().trim())
  return { uid: id('-u'), gid: id('-g') }
}

/** The first line a TCP server sends (SSH identification, FTP 220 greeting). */
export async function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(5000, () => socket.destroy(new Error(`no greeting on ${port}`)))
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      const end = text.indexOf('\n')
      if (end >= 0) {
        socket.destroy()
        resolve(text.slice(0, end).trim())
      }
    })
    socket.once('error', reject)
  })
}

export interface SshdOptions {
  /** The chroot: it and every parent must be root-owned and not group/world-writable. */
  root: string
  user: string
  authorizedKey: string
  /** Also let `user` log in with its system password (no PAM: checked against /etc/shadow). */
  passwordAuthentication?: boolean
  /** Host keys (private key text); default one fresh ed25519 key. */
  hostKeys?: string[]
  /** Listen here (restarting a daemon on the port it had); default a free port. */
  port?: number
  /** More sshd_config lines (KexAlgorithms …, Ciphers …). */
  extra?: string[]
}

export interface RunningSshd extends RunningDaemon {
  hostKeySha256: string
  /** The private host key file, while the daemon runs (for `ssh-keygen -l`). */
  hostKeyPath: string
}

/** "SHA256:<base64>" of a private host key's public half, as ssh-keygen -l prints it. */
export function hostKeyFingerprint(privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey)
  if (parsed instanceof Error) throw parsed
  return fingerprintOf(parsed.getPublicSSH())
}

export async function startSshd(options: SshdOptions): Promise<RunningSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'sshd-'))
  const hostKeys = options.hostKeys ?? [generateSshKeyPair().private]
  const hostKeyFiles = hostKeys.map((_, index) => join(dir, index === 0 ? 'host_key' : `host_key_${index}`))
  for (const [index, key] of hostKeys.entries())
    await writeFile(hostKeyFiles[index] as string, key, { mode: 0o600 })
  // sshd reads authorized_keys as the user logging in.
  await chmod(dir, 0o755)
  await writeFile(join(dir, 'authorized_keys'), `${options.authorizedKey}\n`, { mode: 0o644 })
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const port = options.port ?? (await freePort())
  const passwords = options.passwordAuthentication ? 'yes' : 'no'
  const config = [
    `ListenAddress 127.0.0.1:${port}`,
    ...hostKeyFiles.map((file) => `HostKey ${file}`),
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    `PasswordAuthentication ${passwords}`,
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${options.user}`,
    'Subsystem sftp internal-sftp',
    'ForceCommand internal-sftp',
    `ChrootDirectory ${options.root}`,
    ...(options.extra ?? []),
  ]
  await writeFile(join(dir, 'sshd_config'), `${config.join('\n')}\n`)
  const child = spawnDaemon(sshdPath, ['-D', '-e', '-f', join(dir, 'sshd_config')], 'stderr')
  await new Promise<void>((resolve, reject) => {
    let log = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      if (/Server listening on/.test(log)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${log}`)))
  })
  return {
    host: '127.0.0.1',
    port,
    version: await greeting(port),
    hostKeySha256: hostKeyFingerprint(hostKeys[0] as string),
    hostKeyPath: join(dir, 'host_key'),
    close: async () => {
      await stopDaemon(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export type FtpTls = 'explicit' | 'implicit' | false

export interface VsftpdOptions {
  root: string
  tls: FtpTls
  /** More vsftpd.conf lines (`cmds_denied=…`, `max_per_ip=…`). */
  extra?: string[]
}

/** vsftpd for system accounts (ensureTestUser first), each chrooted to `root`. */
export async function startVsftpd(options: VsftpdOptions): Promise<RunningDaemon> {
  const { root, tls } = options
  // The daemon runs as the test user; files the test makes as root must stay writable for it.
  process.umask(0)
  await chmod(root, 0o777)
  const dir = await mkdtemp(join(tmpdir(), 'vsftpd-'))
  const port = await freePort()
  const pasvMin = randomInt(30_000, 32_000)
  const config = [
    'listen=YES',
    'listen_address=127.0.0.1',
    `listen_port=${port}`,
    'background=NO',
    'seccomp_sandbox=NO',
    'anonymous_enable=NO',
    'local_enable=YES',
    'write_enable=YES',
    'local_umask=022',
    'chroot_local_user=YES',
    'allow_writeable_chroot=YES',
    `local_root=${root}`,
    'check_shell=NO',
    'userlist_enable=NO',
    'pasv_enable=YES',
    'pasv_address=127.0.0.1',
    `pasv_min_port=${pasvMin}`,
    `pasv_max_port=${pasvMin + 50}`,
    'utf8_filesystem=YES',
    'use_localtime=NO',
    'xferlog_enable=NO',
    `vsftpd_log_file=${join(dir, 'vsftpd.log')}`,
    ...(tls
      ? [
          'ssl_enable=YES',
          `rsa_cert_file=${serverCertPath}`,
          `rsa_private_key_file=${serverKeyPath}`,
          'require_ssl_reuse=YES',
          'force_local_logins_ssl=YES',
          'force_local_data_ssl=YES',
          'ssl_ciphers=HIGH',
          ...(tls === 'implicit' ? ['implicit_ssl=YES'] : []),
        ]
      : []),
    ...(options.extra ?? []),
  ]
  await writeFile(join(dir, 'vsftpd.conf'), `${config.join('\n')}\n`)
  const child = spawnDaemon(vsftpdPath, [join(dir, 'vsftpd.conf')])
  const close = async () => {
    await stopDaemon(child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await acceptsConnections(port, child)
    // Implicit TLS greets only after a handshake; the version is the package's own report then.
    const version = tls === 'implicit' ? vsftpdVersion() : await greeting(port)
    return { host: '127.0.0.1', port, version, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** `vsftpd -v` writes its version to file descriptor 0. */
function vsftpdVersion(): string {
  const result = spawnSync('sh', ['-c', `${vsftpdPath} -v 0>&1`], { encoding: 'utf8' })
  return result.stdout.trim() || 'vsftpd'
}

export interface PureFtpdOptions {
  root: string
  /** Explicit FTPS (AUTH TLS) required on control and data connections, or plain FTP only. */
  tls: boolean
  /** The virtual user: a local account (ensureTestUser first) whose password it shares; puredb. */
  user: LocalAccount
  owner: { uid: number; gid: number }
  /** More command-line options (`--norename`, `--maxclientsperip=2`, …). */
  args?: string[]
}

/** The crypt(3) hash of a local account's password (ensureTestUser set it). */
function shadowHash(name: string): string {
  const entry = execFileSync('getent', ['shadow', name]).toString().trim()
  const hash = entry.split(':')[1] ?? ''
  if (!hash.startsWith('$')) throw new Error(`${name} has no usable password hash in /etc/shadow`)
  return hash
}

/** pure-ftpd from the unpacked .deb, with one virtual user (a system account's name and password) chrooted to `root`. */
export async function startPureFtpd(options: PureFtpdOptions): Promise<RunningDaemon> {
  const { root, owner } = options
  process.umask(0)
  await chmod(root, 0o777)
  const dir = await mkdtemp(join(tmpdir(), 'pure-ftpd-'))
  const passwd = join(dir, 'pureftpd.passwd')
  const db = join(dir, 'pureftpd.pdb')
  // The virtual user, chrooted to `root` by the "/./" in its home. pure-pw would hash its
  // password with argon2id at a cost that takes seconds per login here; the account's crypt(3)
  // hash from /etc/shadow (yescrypt) verifies in milliseconds, so the line is written directly.
  const hash = shadowHash(options.user.name)
  await writeFile(
    passwd,
    `${options.user.name}:${hash}:${owner.uid}:${owner.gid}::${root}/./::::::::::::\n`,
    {
      mode: 0o600,
    },
  )
  execFileSync(purePwPath, ['mkdb', db, '-f', passwd], { stdio: ['ignore', 'ignore', 'pipe'] })
  const port = await freePort()
  const pasvMin = randomInt(32_000, 34_000)
  const args = [
    `--bind=127.0.0.1,${port}`,
    '--ipv4only',
    `--passiveportrange=${pasvMin}:${pasvMin + 50}`,
    '--forcepassiveip=127.0.0.1',
    `--login=puredb:${db}`,
    '--noanonymous',
    '--chrooteveryone',
    '--dontresolve',
    '--syslogfacility=none',
    `--pidfile=${join(dir, 'pure-ftpd.pid')}`,
    // The owner is an ordinary account; the default minimum uid could refuse it.
    `--minuid=${Math.min(owner.uid, 1000)}`,
    '--umask=133:022',
    ...(options.tls
      ? ['--tls=3', `--certfile=${serverCertPath},${serverKeyPath}`, '--tlsciphersuite=HIGH']
      : []),
    ...(options.args ?? []),
  ]
  const child = spawnDaemon(pureFtpdPath, args)
  const close = async () => {
    await stopDaemon(child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await acceptsConnections(port, child)
    return { host: '127.0.0.1', port, version: pureFtpdVersion(), close }
  } catch (error) {
    await close()
    throw error
  }
}

/** pure-ftpd names no version in its greeting; `--help` starts with it ("pure-ftpd v1.0.50 [privsep]"). */
export function pureFtpdVersion(): string {
  const result = spawnSync(pureFtpdPath, ['--help'], { encoding: 'utf8' })
  return `${result.stdout}${result.stderr}`.split('\n')[0]?.trim() ?? 'pure-ftpd'
}
