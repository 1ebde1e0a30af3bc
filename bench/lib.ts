/**
 * Shared pieces of the benchmarks: the remote servers (OpenSSH sshd when it
 * can run here, else the in-process SFTP server; the in-process FTP server),
 * the service as a child process with its RSS sampled, the raw-transfer
 * baseline worker, test data and the result table.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { homedir, tmpdir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import ssh2 from 'ssh2'
import { fingerprintOf } from '../src/adapters/remote/index.js'
import { createSalesforceApi } from '../src/adapters/salesforce/index.js'
import { createSDrive } from '../src/adapters/sdrive/index.js'
import { parseConfig } from '../src/config/load.js'
import { createLogger } from '../src/logging/logger.js'
import { SERVICE_NODE_FLAGS } from '../src/node-flags.js'
import type { SDrive } from '../src/ports/sdrive.js'
import { startFtpServer } from '../src/sandbox/ftp-server.js'
import type { SalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { generateSshKeyPair, startSftpServer } from '../src/sandbox/sftp-server.js'
import { daemonUnavailable, freePort, sshdPath, stopDaemon, vsftpdPath } from '../test/support/daemons.js'
import { ensureTestUser, localAccount, startVsftpd } from '../test/support/real-server-configs.js'
import type { CpuWindow } from './cpu.js'

export const MB = 1024 * 1024
export const KiB = 1024
export const API_KEY = 'bench-api-key-0123456789abcdef'
const FTP_USER = 'partner'
const FTP_PASSWORD = 'bench-password'

export type Protocol = 'sftp' | 'ftp'

/** How a client (the service or the raw baseline) reaches a remote server. */
export interface RemoteConnection {
  protocol: Protocol
  host: string
  port: number
  username: string
  password?: string
  privateKey?: string
  hostKeySha256?: string
}

export interface RemoteServer {
  /** What serves it, for the output. */
  label: string
  /** Directory on this machine that the server shows as "/". */
  root: string
  connection: RemoteConnection
  close(): Promise<void>
}

/**
 * BENCH_SCALE (default 1): every count, size and duration of the bench is multiplied by it, with a
 * floor so that each figure still runs (BENCH_SCALE=0.01 smoke-runs the whole bench in a few
 * minutes; its figures then say nothing about the goals).
 */
export function benchScale(): number {
  const scale = Number(process.env.BENCH_SCALE ?? 1)
  if (!(scale > 0))
    throw new Error(
      `BENCH_SCALE must be a number above 0, got ${process.env.BENCH_SCALE} (figure 6 is skipped with BENCH_SWEEP=0 now)`,
    )
  return scale
}

/** n × BENCH_SCALE, rounded, at least `floor`. */
export function scaled(n: number, floor = 1): number {
  return Math.max(floor, Math.round(n * benchScale()))
}

/** Passes per figure (BENCH_REPS, default 3): every figure is the median of this many. */
export function benchReps(): number {
  return Number(process.env.BENCH_REPS ?? 3)
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

export function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

/** Why the real OpenSSH sshd cannot serve the SFTP figures here, or null when it can. */
export function sshdUnavailable(): string | null {
  if (process.env.BENCH_SFTP_SERVER === 'inprocess') return 'BENCH_SFTP_SERVER=inprocess'
  return daemonUnavailable(sshdPath)
}

/** Why vsftpd cannot serve the FTP figures here, or null when it can. */
export function vsftpdUnavailable(): string | null {
  if (process.env.BENCH_FTP_SERVER === 'inprocess') return 'BENCH_FTP_SERVER=inprocess'
  return daemonUnavailable(vsftpdPath)
}

/**
 * vsftpd (plain FTP, chrooted) for a local account of its own. The in-process
 * ftp-srv answers every transfer's 226 about 40 ms late (its control socket
 * keeps Nagle's algorithm on, and the client delays its ACK of the 150), which
 * caps any client at ~22 files/s per connection: a real server measures the
 * service instead.
 */
async function startBenchVsftpd(): Promise<RemoteServer> {
  const root = await mkdtemp(join(tmpdir(), 'bench-vsftpd-root-'))
  // An account of this bench process: another bench running beside it (another checkout, the
  // bench's tap test) would set a shared account's password to its own while this one logs in.
  const account = localAccount(`sdrivebench${process.pid}`)
  ensureTestUser(account)
  const daemon = await startVsftpd({ root, tls: false })
  return {
    label: `vsftpd ${daemon.version.replace(/^220\s*/, '')}`,
    root,
    connection: {
      protocol: 'ftp',
      host: daemon.host,
      port: daemon.port,
      username: account.name,
      password: account.password,
    },
    async close() {
      await daemon.close()
      await rm(root, { recursive: true, force: true })
      try {
        execFileSync('userdel', [account.name], { stdio: 'ignore' })
      } catch {}
    },
  }
}

/** OpenSSH sshd (internal-sftp, chrooted, key login) on a loopback port. */
async function startSshd(): Promise<RemoteServer> {
  // ChrootDirectory wants every path component root-owned and not group/world-writable; /tmp is not.
  const root = await mkdtemp(join(homedir(), 'bench-sftp-root-'))
  const dir = await mkdtemp(join(tmpdir(), 'bench-sshd-'))
  const hostKey = generateSshKeyPair()
  const clientKey = generateSshKeyPair()
  await writeFile(join(dir, 'host_key'), hostKey.private, { mode: 0o600 })
  await writeFile(join(dir, 'authorized_keys'), `${clientKey.public}\n`)
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const port = await freePort()
  const config = [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${userInfo().username}`,
    'MaxStartups 100:30:200',
    'MaxSessions 100',
    'Subsystem sftp internal-sftp',
    'ForceCommand internal-sftp',
    `ChrootDirectory ${root}`,
  ]
  await writeFile(join(dir, 'sshd_config'), `${config.join('\n')}\n`)
  const child = spawn(sshdPath, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  await new Promise<void>((resolve, reject) => {
    let text = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (/Server listening on/.test(text)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${text}`)))
  })
  child.stderr?.resume()
  const parsed = ssh2.utils.parseKey(hostKey.public)
  if (parsed instanceof Error) throw parsed
  return {
    label: `OpenSSH ${sshdPath} (internal-sftp)`,
    root,
    connection: {
      protocol: 'sftp',
      host: '127.0.0.1',
      port,
      username: userInfo().username,
      privateKey: clientKey.private,
      hostKeySha256: fingerprintOf(parsed.getPublicSSH()),
    },
    async close() {
      await stopDaemon(child)
      await rm(dir, { recursive: true, force: true })
      await rm(root, { recursive: true, force: true })
    },
  }
}

export async function startRemote(protocol: Protocol): Promise<RemoteServer> {
  if (protocol === 'sftp' && !sshdUnavailable()) return startSshd()
  if (protocol === 'ftp' && !vsftpdUnavailable()) return startBenchVsftpd()
  const root = await mkdtemp(join(tmpdir(), `bench-${protocol}-root-`))
  if (protocol === 'sftp') {
    const server = await startSftpServer({ root, users: [{ username: FTP_USER, password: FTP_PASSWORD }] })
    return {
      label: 'in-process SFTP server (ssh2, JavaScript)',
      root,
      connection: {
        protocol,
        host: server.host,
        port: server.port,
        username: FTP_USER,
        password: FTP_PASSWORD,
        hostKeySha256: server.hostKeySha256,
      },
      async close() {
        await server.close()
        await rm(root, { recursive: true, force: true })
      },
    }
  }
  const server = await startFtpServer({ root, username: FTP_USER, password: FTP_PASSWORD })
  return {
    label: 'in-process FTP server (ftp-srv, JavaScript)',
    root,
    connection: {
      protocol,
      host: server.host,
      port: server.port,
      username: FTP_USER,
      password: FTP_PASSWORD,
    },
    async close() {
      await server.close()
      await rm(root, { recursive: true, force: true })
    },
  }
}

/** Endpoint config of the service for a remote connection. */
export function endpointConfig(c: RemoteConnection, maxConnections: number): Record<string, unknown> {
  return {
    protocol: c.protocol,
    host: c.host,
    port: c.port,
    username: c.username,
    ...(c.password ? { password: c.password } : {}),
    ...(c.privateKey ? { privateKey: c.privateKey } : {}),
    ...(c.hostKeySha256 ? { hostKeySha256: c.hostKeySha256 } : {}),
    maxConnections,
    operationTimeoutMs: 300_000,
  }
}

const ONE_HOUR_AGO = () => (Date.now() - 3600_000) / 1000

/** A MiB of incompressible-looking bytes. */
function block(): Buffer {
  const b = Buffer.alloc(MB)
  for (let i = 0; i < MB; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i)
  return b
}

export async function writeBigFile(path: string, sizeMb: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const data = block()
  const out = createWriteStream(path)
  for (let i = 0; i < sizeMb; i++) if (!out.write(data)) await once(out, 'drain')
  out.end()
  await once(out, 'finish')
  const old = ONE_HOUR_AGO()
  await utimes(path, old, old)
}

/** Writes `count` files of `size` bytes named `${prefix(i)}` into dir, aged one hour (ready for pick-up). */
export async function writeSmallFiles(dir: string, names: string[], size: number): Promise<void> {
  await mkdir(dir, { recursive: true })
  const data = block().subarray(0, size)
  const old = ONE_HOUR_AGO()
  for (const name of names) {
    const path = join(dir, name)
    await writeFile(path, data)
    await utimes(path, old, old)
  }
}

export function configFor(sandbox: SalesforceSandbox, dir: string, extra: Record<string, unknown>) {
  return {
    server: { host: '127.0.0.1', port: 0, apiKeys: [API_KEY] },
    store: { sqlitePath: join(dir, `bridge-${Math.random().toString(36).slice(2)}.sqlite`) },
    salesforce: {
      loginUrl: sandbox.url,
      auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    },
    sdrive: { s3UploadUrl: sandbox.s3UploadUrl, uploadTimeoutMs: 300_000 },
    ...extra,
  }
}

/** The bridge's own S-Drive client in this process: tickets, download URLs and file lookups for baselines. */
export function sdriveClient(sandbox: SalesforceSandbox, dir: string): SDrive {
  const config = parseConfig(
    JSON.stringify(configFor(sandbox, dir, { endpoints: {}, flows: [] })),
    'json',
    {},
  )
  const logger = createLogger({ level: 'warn' })
  return createSDrive(createSalesforceApi(config.salesforce, { logger }), config.sdrive, { logger })
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024
}

export interface ServiceChild {
  url: string
  pid: number
  api(method: string, path: string, body?: unknown): Promise<any>
  /** Samples RSS every 25 ms while fn runs; returns fn's result, resting and peak RSS. */
  sampled<T>(fn: () => Promise<T>): Promise<{ result: T; resting: number; peak: number }>
  /** Starts a flow run and waits until it settles (polling every pollMs, default 20); returns the run detail. */
  runFlow(flow: string, pollMs?: number): Promise<any>
  /** Submits an export and waits for the job (polling every pollMs, default 20); returns the job. */
  exportRecords(flow: string, recordIds: string[], pollMs?: number): Promise<any>
  close(): Promise<void>
}

let built: Promise<void> | null = null

/**
 * What the service child runs. By default what production runs (the Dockerfile's CMD): the
 * compiled `dist/src/server.js` with the service's node flags (src/node-flags.ts) under
 * NODE_ENV=production, built once per bench process with `npm run build` so the figures are
 * never those of a stale dist. BENCH_SERVICE=tsx runs the
 * sources under tsx instead (no build step, but tsx's loader adds ~60 MiB of RSS and its own CPU).
 */
export async function serviceEntry(): Promise<{
  args: string[]
  env: Record<string, string>
  label: string
}> {
  if (process.env.BENCH_SERVICE === 'tsx')
    return {
      args: [...SERVICE_NODE_FLAGS, '--import', 'tsx', 'src/server.ts'],
      env: {},
      label: `node ${SERVICE_NODE_FLAGS.join(' ')} --import tsx src/server.ts`,
    }
  built ??= (async () => {
    if (process.env.BENCH_NO_BUILD === '1') return
    log('building the service (npm run build) to bench what production runs')
    const child = spawn('npm', ['run', 'build', '--silent'], { stdio: ['ignore', 'inherit', 'inherit'] })
    const [code] = (await once(child, 'exit')) as [number]
    if (code !== 0) throw new Error(`npm run build exited with ${code}`)
  })()
  await built
  // BENCH_DIST=DIR (with BENCH_NO_BUILD=1): another compiled tree, e.g. an earlier commit's, for a before/after.
  const dist = process.env.BENCH_DIST ?? 'dist'
  return {
    args: [...SERVICE_NODE_FLAGS, `${dist}/src/server.js`],
    env: { NODE_ENV: 'production' },
    label: `node ${SERVICE_NODE_FLAGS.join(' ')} ${dist}/src/server.js (compiled, NODE_ENV=production)`,
  }
}

/** The service as a child process (compiled by default, see serviceEntry), so its RSS is its own. */
export async function spawnService(config: Record<string, unknown>, dir: string): Promise<ServiceChild> {
  const configPath = join(dir, `bridge-${Math.random().toString(36).slice(2)}.json`)
  await writeFile(configPath, JSON.stringify(config))
  // BENCH_CPU_PROF=DIR: the service writes a V8 CPU profile there when it exits (node --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : []
  // BENCH_NODE_ARGS: more node flags for the service (e.g. --heap-prof, --max-semi-space-size=4).
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const entry = await serviceEntry()
  const child: ChildProcess = spawn(process.execPath, [...profile, ...extra, ...entry.args], {
    env: { ...process.env, ...entry.env, BRIDGE_CONFIG: configPath, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let url = ''
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  for await (const line of lines) {
    try {
      const entry = JSON.parse(line) as { url?: string }
      if (entry.url) {
        url = entry.url
        break
      }
    } catch {}
  }
  if (!url) throw new Error('the service did not start')
  lines.on('line', () => {})
  const pid = child.pid as number
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    return (await res.json()) as any
  }
  /**
   * Waits for a run or job through its list (one indexed row, limit 1), then reads its detail once:
   * polling the detail itself would serialize every item of a 1,000-file run 20 times a second,
   * CPU the service then spends on the bench instead of the transfer.
   */
  const poll = async (
    listPath: string,
    key: 'runs' | 'jobs',
    id: string,
    detailPath: string,
    pollMs = 20,
  ) => {
    for (;;) {
      const page = await api('GET', listPath)
      const summary = (page[key] as { id: string; state: string }[] | undefined)?.find((r) => r.id === id)
      if (summary && !['queued', 'running', 'waiting_for_window'].includes(summary.state))
        return api('GET', detailPath)
      await new Promise((r) => setTimeout(r, pollMs))
    }
  }
  return {
    url,
    pid,
    api,
    async sampled(fn) {
      const resting = await rssOf(pid)
      let peak = resting
      const sampler = setInterval(() => {
        rssOf(pid).then(
          (rss) => {
            peak = Math.max(peak, rss)
          },
          () => {},
        )
      }, 25)
      try {
        const result = await fn()
        peak = Math.max(peak, await rssOf(pid))
        return { result, resting, peak }
      } finally {
        clearInterval(sampler)
      }
    },
    async runFlow(flow, pollMs) {
      const { runId } = await api('POST', `/v1/flows/${flow}/runs`)
      if (!runId) throw new Error(`flow ${flow} did not start`)
      return poll(`/v1/runs?flow=${flow}&limit=1`, 'runs', runId, `/v1/runs/${runId}`, pollMs)
    },
    async exportRecords(flow, recordIds, pollMs) {
      const { jobId } = await api('POST', '/v1/exports', { flow, recordIds })
      if (!jobId) throw new Error(`export ${flow} was not accepted`)
      return poll(`/v1/jobs?flow=${flow}&limit=1`, 'jobs', jobId, `/v1/jobs/${jobId}`, pollMs)
    },
    async close() {
      child.kill('SIGTERM')
      if (child.exitCode === null) await once(child, 'exit')
    },
  }
}

/**
 * Node arguments to run one of the bench's helper scripts: compiled when BENCH_DIST holds it (tap's
 * build of the service and these helpers, for the bench's smoke test: tsx's loader costs each
 * child ~2 s of CPU on a busy machine), else the source under tsx. The figures do not depend on
 * it: the helpers start their clocks after their start-up.
 */
export function helperScript(source: string): string[] {
  const compiled = process.env.BENCH_DIST ? join(process.env.BENCH_DIST, source.replace(/\.ts$/, '.js')) : ''
  return compiled && existsSync(compiled) ? [compiled] : ['--import', 'tsx', source]
}

/** One raw transfer for the baseline worker (bench/raw-worker.ts). */
export type RawTask =
  | {
      kind: 'inbound'
      remotePath: string
      size: number
      s3Url: string
      fields: [string, string][]
      fileName: string
    }
  | { kind: 'outbound'; downloadUrl: string; remotePath: string }

/** Runs the raw baseline in a child process (like the service), returning its wall time in seconds. */
export async function runRawWorker(
  connection: RemoteConnection,
  tasks: RawTask[],
  concurrency: number,
  dir: string,
): Promise<number> {
  return (await runRawWorkerTimed(connection, tasks, concurrency, dir)).seconds
}

/** runRawWorker, with the CPU of its timed window: the machine's and the raw client's own. */
export async function runRawWorkerTimed(
  connection: RemoteConnection,
  tasks: RawTask[],
  concurrency: number,
  dir: string,
): Promise<CpuWindow> {
  const jobPath = join(dir, `raw-${Math.random().toString(36).slice(2)}.json`)
  await writeFile(jobPath, JSON.stringify({ connection, tasks, concurrency }))
  const child = spawn(process.execPath, [...helperScript('bench/raw-worker.ts'), jobPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const [code] = (await once(child, 'exit')) as [number]
  await rm(jobPath, { force: true })
  if (code !== 0) throw new Error(`raw worker exited with ${code}`)
  return (JSON.parse(out) as { cpu: CpuWindow }).cpu
}

export type Row = [figure: string, measured: string, baseline: string, ratio: string]

export function printTable(rows: Row[], out: (s: string) => void = (s) => process.stdout.write(s)): void {
  const header: Row = ['figure', 'measured', 'baseline', 'ratio']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |\n`
  out(line(header))
  out(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) out(line(r))
}

export const fmtMBs = (bytes: number, s: number) => `${(bytes / MB / s).toFixed(1)} MiB/s`
export const ratio = (a: number, b: number) => (a / b).toFixed(2)

/** True when this module file is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === new URL(`file://${process.argv[1]}`).href
}
