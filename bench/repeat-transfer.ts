/**
 * Issue 17: CPU per GiB of the service for the same large file moved several times in one
 * process. Something that accumulates per transfer shows as a later pass costing more CPU
 * than the first.
 *
 *   npx tsx bench/repeat-transfer.ts
 *
 * G5 of issue 17: BENCH_REPEAT_PROCESSES service processes (BENCH_REPS, 3), each moving the file
 * BENCH_REPEAT_PASSES times (5); the figure is the median over the processes of pass 5 / pass 1.
 *
 * Environment: BENCH_REPEAT_MB (file size, default 1024 × BENCH_SCALE), BENCH_REPEAT_PASSES (5),
 * BENCH_REPEAT_PROCESSES (3), BENCH_REPEAT_PROTOCOLS (sftp; sftp,ftp for both),
 * BENCH_REPEAT_DIRECTIONS (in,out: inbound, then outbound moving the first inbound pass's file; in alone).
 */
import { createHash } from 'node:crypto'
import { link, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type SalesforceSandbox, startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { processCpu } from './cpu.js'
import { type GoalRow, printGoalTable, showSpread, spread } from './goals.js'
import {
  benchReps,
  configFor,
  endpointConfig,
  isMain,
  log,
  MB,
  type Protocol,
  printTable,
  type RemoteServer,
  type Row,
  scaled,
  seconds,
  spawnService,
  startRemote,
  writeBigFile,
} from './lib.js'

/**
 * How often the bench asks whether a pass has ended. Each answer costs the service CPU (~1-2 ms
 * under load), so at the throughput benches' 20 ms a pass's CPU grew with its wall time: on a busy
 * machine a slower pass made the service look as if it burned more CPU per GiB (a V8 profile put
 * 1.2-2.7 s of a 1 GiB pass in the HTTP API and the store's reads, all of it the bench's polling).
 * A pass lasts seconds, so 250 ms costs nothing in accuracy.
 */
const POLL_MS = 250

const FILE_OBJECT = 'cg__AccountFile__c'
const PARENT_FIELD = 'cg__Account__c'

/**
 * CPU seconds per GiB of a fixed piece of work on this machine right now: SHA-256 and MD5 of 128 MiB
 * in this process, the same per-byte work an inbound transfer does. Run after every pass: on a
 * shared 2-vCPU virtual machine the same instructions cost more CPU time when the other processes
 * (and the host) are busier, so a pass's CPU per GiB is read beside this one, not alone.
 */
function canarySecondsPerGiB(): number {
  const chunk = Buffer.alloc(MB, 7)
  const start = process.cpuUsage()
  const sha = createHash('sha256')
  const md5 = createHash('md5')
  for (let i = 0; i < 128; i++) {
    sha.update(chunk)
    md5.update(chunk)
  }
  sha.digest()
  md5.digest()
  const used = process.cpuUsage(start)
  return ((used.user + used.system) / 1e6) * (1024 / 128)
}

export interface RepeatOptions {
  sizeMb: number
  passes: number
  /** Service processes per figure, each moving the file `passes` times: the figure is their median. */
  processes: number
  protocols: Protocol[]
  directions: ('in' | 'out')[]
}

export function defaultRepeatOptions(): RepeatOptions {
  return {
    sizeMb: Number(process.env.BENCH_REPEAT_MB ?? scaled(1024)),
    passes: Number(process.env.BENCH_REPEAT_PASSES ?? 5),
    processes: Number(process.env.BENCH_REPEAT_PROCESSES ?? benchReps()),
    protocols: (process.env.BENCH_REPEAT_PROTOCOLS ?? 'sftp').split(',') as Protocol[],
    directions: (process.env.BENCH_REPEAT_DIRECTIONS ?? 'in,out').split(',') as ('in' | 'out')[],
  }
}

type Direction = 'in' | 'out'
interface PassFigures {
  perPass: number[]
  canaries: number[]
}

function serviceConfig(sandbox: SalesforceSandbox, dir: string, p: Protocol, remote: RemoteServer) {
  return configFor(sandbox, dir, {
    endpoints: { [p]: endpointConfig(remote.connection, 1) },
    flows: [
      {
        name: 'in',
        kind: 'inbound',
        source: { endpoint: p, directory: '/in' },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
        match: [{ type: 'filename', pattern: '^(?<AccountNumber>REP-[a-z]+-\\d+-\\d+)_', object: 'Account' }],
        target: { fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
        after: { success: 'delete', errorDirectory: '/errors' },
      },
      {
        name: 'out',
        kind: 'outbound',
        source: { object: 'Account', fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
        destination: { endpoint: p, directory: '/out', existing: 'overwrite' },
      },
    ],
  })
}

/** One service process: the file moved `passes` times per direction; CPU s/GiB of each pass. */
async function oneProcess(
  options: RepeatOptions,
  sandbox: SalesforceSandbox,
  dir: string,
  p: Protocol,
  remote: RemoteServer,
  k: number,
  master: string,
): Promise<Map<Direction, PassFigures>> {
  // One account per inbound pass, so the outbound passes export exactly one large file.
  const numbers = Array.from({ length: options.passes }, (_, i) => `REP-${p}-${k}-${i + 1}`)
  const accounts = numbers.map((n) => sandbox.insert('Account', { Name: `Repeat ${n}`, AccountNumber: n }))
  const svc = await spawnService(serviceConfig(sandbox, dir, p, remote), dir)
  const gib = options.sizeMb / 1024
  const figures = new Map<Direction, PassFigures>()
  try {
    for (const direction of options.directions) {
      const f: PassFigures = { perPass: [], canaries: [] }
      figures.set(direction, f)
      for (let pass = 1; pass <= options.passes; pass++) {
        if (direction === 'in') {
          const path = join(remote.root, 'in', `${numbers[pass - 1]}_big.bin`)
          await mkdir(join(remote.root, 'in'), { recursive: true })
          await link(master, path).catch(() => writeBigFile(path, options.sizeMb))
        }
        const cpu0 = processCpu(svc.pid)
        const t0 = process.hrtime.bigint()
        const job =
          direction === 'in'
            ? await svc.runFlow('in', POLL_MS)
            : await svc.exportRecords('out', [accounts[0] as string], POLL_MS)
        const wall = seconds(t0)
        const cpu1 = processCpu(svc.pid)
        if (direction === 'out') await rm(join(remote.root, 'out'), { recursive: true, force: true })
        if (job.state !== 'succeeded') throw new Error(`${direction} ${p} pass ${pass} ended ${job.state}`)
        const files = job.counts?.done ?? 1
        const user = cpu1.user - cpu0.user
        const system = cpu1.system - cpu0.system
        f.perPass.push((user + system) / (gib * files))
        f.canaries.push(canarySecondsPerGiB())
        const rss =
          Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${svc.pid}/status`, 'utf8'))?.[1]) / 1024
        log(
          `G5 ${direction} ${p} process ${k} pass ${pass}: ${files} file(s), ${f.perPass.at(-1)?.toFixed(2)} CPU s/GiB (user ${user.toFixed(2)} s, system ${system.toFixed(2)} s), ${wall.toFixed(1)} s wall, RSS ${rss.toFixed(0)} MiB, load ${loadavg()[0]?.toFixed(1)}, canary ${f.canaries.at(-1)?.toFixed(2)} s/GiB`,
        )
      }
    }
  } finally {
    await svc.close()
  }
  return figures
}

function goalRow(options: RepeatOptions, p: Protocol, direction: Direction, runs: PassFigures[]): GoalRow {
  const last = spread(runs.map((r) => r.perPass.at(-1) as number))
  const first = spread(runs.map((r) => r.perPass[0] as number))
  const ratios = spread(runs.map((r) => (r.perPass.at(-1) as number) / (r.perPass[0] as number)))
  return {
    figure: `G5 CPU per GiB, ${direction}bound ${p.toUpperCase()} ${options.sizeMb} MiB, pass ${options.passes} vs pass 1 in one process (${runs.length} processes)`,
    measured: `pass ${options.passes}: ${showSpread(last, 2, ' s/GiB')}`,
    baseline: `pass 1: ${showSpread(first, 2, ' s/GiB')}`,
    ratio: showSpread(ratios, 2),
    goal: 'within 10 % (≤ 1.10)',
    met: ratios.median <= 1.1,
  }
}

export async function benchRepeatTransfer(
  options: RepeatOptions,
): Promise<{ goals: GoalRow[]; rows: Row[]; notes: string[] }> {
  const goals: GoalRow[] = []
  const rows: Row[] = []
  const notes: string[] = []
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-repeat-'))
  const sandbox = await startSalesforceSandbox({ maxFileSizeBytes: 6 * 1024 * MB })
  const remotes: Partial<Record<Protocol, RemoteServer>> = {}
  try {
    for (const p of options.protocols) {
      const remote = await startRemote(p)
      remotes[p] = remote
      notes.push(`G5: ${p.toUpperCase()} server ${remote.label}`)
      const master = join(dir, `master-${p}.bin`)
      await writeBigFile(master, options.sizeMb)
      const runs = new Map<Direction, PassFigures[]>()
      for (let k = 1; k <= options.processes; k++)
        for (const [direction, f] of await oneProcess(options, sandbox, dir, p, remote, k, master))
          runs.set(direction, [...(runs.get(direction) ?? []), f])
      for (const [direction, figures] of runs) {
        goals.push(goalRow(options, p, direction, figures))
        figures.forEach((f, i) => {
          rows.push([
            `5 CPU per GiB, ${direction}bound ${p.toUpperCase()} ${options.sizeMb} MiB, process ${i + 1}, each pass`,
            f.perPass.map((s) => s.toFixed(2)).join(' / '),
            `canary ${f.canaries.map((c) => c.toFixed(2)).join(' / ')}`,
            ((f.perPass.at(-1) as number) / (f.perPass[0] as number)).toFixed(2),
          ])
        })
      }
    }
  } finally {
    for (const remote of Object.values(remotes)) await remote?.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  }
  notes.push(
    'G5: CPU = user + system of the service process (/proc/<pid>/stat) per pass; the canary (SHA-256 + MD5 of 128 MiB in the bench process after each pass) tells a slow machine from a slow service',
  )
  return { goals, rows, notes }
}

if (isMain(import.meta.url)) {
  const { goals, rows, notes } = await benchRepeatTransfer(defaultRepeatOptions())
  printGoalTable(goals)
  printTable(rows)
  for (const n of notes) process.stdout.write(`- ${n}\n`)
}
