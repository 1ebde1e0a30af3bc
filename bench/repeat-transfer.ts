/**
 * Issue 17: CPU per GiB of the service for the same large file moved several times in one
 * process. Something that accumulates per transfer shows as a later pass costing more CPU
 * than the first.
 *
 *   npx tsx bench/repeat-transfer.ts
 *
 * Environment: BENCH_REPEAT_MB (file size, default 1024), BENCH_REPEAT_PASSES (5),
 * BENCH_REPEAT_PROTOCOLS (sftp,ftp), BENCH_REPEAT_DIRECTIONS (in,out).
 */
import { createHash } from 'node:crypto'
import { link, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import {
  configFor,
  endpointConfig,
  isMain,
  log,
  MB,
  type Protocol,
  printTable,
  type RemoteServer,
  type Row,
  seconds,
  serviceEntry,
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

/** User and system CPU seconds a process has spent so far (/proc/<pid>/stat, clock ticks of 10 ms). */
async function cpuOf(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }
}

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
  protocols: Protocol[]
  directions: ('in' | 'out')[]
}

export function defaultRepeatOptions(): RepeatOptions {
  return {
    sizeMb: Number(process.env.BENCH_REPEAT_MB ?? 1024),
    passes: Number(process.env.BENCH_REPEAT_PASSES ?? 5),
    protocols: (process.env.BENCH_REPEAT_PROTOCOLS ?? 'sftp,ftp').split(',') as Protocol[],
    directions: (process.env.BENCH_REPEAT_DIRECTIONS ?? 'in,out').split(',') as ('in' | 'out')[],
  }
}

export async function benchRepeatTransfer(options: RepeatOptions): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = []
  const notes: string[] = [`service: ${(await serviceEntry()).label}`]
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-repeat-'))
  const sandbox = await startSalesforceSandbox({ maxFileSizeBytes: 6 * 1024 * MB })
  const remotes: Partial<Record<Protocol, RemoteServer>> = {}
  try {
    for (const p of options.protocols) {
      const remote = await startRemote(p)
      remotes[p] = remote
      notes.push(`${p.toUpperCase()} server: ${remote.label}`)
      // One account per inbound pass, so the outbound passes export exactly one large file.
      const accounts = Array.from({ length: options.passes }, (_, i) =>
        sandbox.insert('Account', { Name: `Repeat ${p} ${i + 1}`, AccountNumber: `REP-${p}${i + 1}` }),
      )
      const svc = await spawnService(
        configFor(sandbox, dir, {
          endpoints: { [p]: endpointConfig(remote.connection, 1) },
          flows: [
            {
              name: 'in',
              kind: 'inbound',
              source: { endpoint: p, directory: '/in' },
              readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
              match: [{ type: 'filename', pattern: '^(?<AccountNumber>REP-[a-z]+\\d+)_', object: 'Account' }],
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
        }),
        dir,
      )
      const master = join(dir, `master-${p}.bin`)
      await writeBigFile(master, options.sizeMb)
      const gib = options.sizeMb / 1024
      for (const direction of options.directions) {
        const perPass: number[] = []
        const canaries: number[] = []
        for (let pass = 1; pass <= options.passes; pass++) {
          let cpu0 = { user: 0, system: 0 }
          let t0 = process.hrtime.bigint()
          let job: any
          if (direction === 'in') {
            await mkdir(join(remote.root, 'in'), { recursive: true })
            await link(master, join(remote.root, 'in', `REP-${p}${pass}_big.bin`)).catch(async () => {
              await writeBigFile(join(remote.root, 'in', `REP-${p}${pass}_big.bin`), options.sizeMb)
            })
            cpu0 = await cpuOf(svc.pid)
            t0 = process.hrtime.bigint()
            job = await svc.runFlow('in', POLL_MS)
          } else {
            cpu0 = await cpuOf(svc.pid)
            t0 = process.hrtime.bigint()
            job = await svc.exportRecords('out', [accounts[0] as string], POLL_MS)
            await rm(join(remote.root, 'out'), { recursive: true, force: true })
          }
          const wall = seconds(t0)
          const cpu1 = await cpuOf(svc.pid)
          const user = cpu1.user - cpu0.user
          const system = cpu1.system - cpu0.system
          const cpu = user + system
          if (job.state !== 'succeeded') throw new Error(`${direction} ${p} pass ${pass} ended ${job.state}`)
          const files = job.counts?.done ?? 1
          perPass.push(cpu / (gib * files))
          const canary = canarySecondsPerGiB()
          canaries.push(canary)
          const rss =
            Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${svc.pid}/status`, 'utf8'))?.[1]) / 1024
          log(
            `${direction} ${p} pass ${pass}: ${files} file(s), ${(cpu / (gib * files)).toFixed(2)} CPU s/GiB (user ${user.toFixed(2)} s, system ${system.toFixed(2)} s), ${wall.toFixed(1)} s wall, RSS ${rss.toFixed(0)} MiB, load ${loadavg()[0]?.toFixed(1)}, canary ${canary.toFixed(2)} s/GiB`,
          )
        }
        const first = perPass[0] as number
        const last = perPass[perPass.length - 1] as number
        rows.push([
          `CPU per GiB, ${direction}bound ${p.toUpperCase()} ${options.sizeMb} MiB, pass ${options.passes} vs pass 1`,
          perPass.map((s) => s.toFixed(2)).join(' / '),
          `pass 1: ${first.toFixed(2)} s/GiB; canary per pass ${canaries.map((c) => c.toFixed(2)).join(' / ')}`,
          `${(last / first).toFixed(2)} (canary ${((canaries.at(-1) as number) / (canaries[0] as number)).toFixed(2)})`,
        ])
      }
      await svc.close()
    }
  } finally {
    for (const remote of Object.values(remotes)) await remote?.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  }
  return { rows, notes }
}

if (isMain(import.meta.url)) {
  const { rows, notes } = await benchRepeatTransfer(defaultRepeatOptions())
  printTable(rows)
  for (const n of notes) process.stdout.write(`- ${n}\n`)
}
