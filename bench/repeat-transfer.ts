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
import { link, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
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
  serviceEntry,
  spawnService,
  startRemote,
  writeBigFile,
} from './lib.js'

const FILE_OBJECT = 'cg__AccountFile__c'
const PARENT_FIELD = 'cg__Account__c'

/** User + system CPU seconds a process has spent so far (/proc/<pid>/stat, clock ticks of 10 ms). */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
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
        for (let pass = 1; pass <= options.passes; pass++) {
          let cpu0 = 0
          let job: any
          if (direction === 'in') {
            await mkdir(join(remote.root, 'in'), { recursive: true })
            await link(master, join(remote.root, 'in', `REP-${p}${pass}_big.bin`)).catch(async () => {
              await writeBigFile(join(remote.root, 'in', `REP-${p}${pass}_big.bin`), options.sizeMb)
            })
            cpu0 = await cpuSecondsOf(svc.pid)
            job = await svc.runFlow('in')
          } else {
            cpu0 = await cpuSecondsOf(svc.pid)
            job = await svc.exportRecords('out', [accounts[0] as string])
            await rm(join(remote.root, 'out'), { recursive: true, force: true })
          }
          const cpu = (await cpuSecondsOf(svc.pid)) - cpu0
          if (job.state !== 'succeeded') throw new Error(`${direction} ${p} pass ${pass} ended ${job.state}`)
          const files = job.counts?.done ?? 1
          perPass.push(cpu / (gib * files))
          const rss =
            Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${svc.pid}/status`, 'utf8'))?.[1]) / 1024
          log(
            `${direction} ${p} pass ${pass}: ${files} file(s), ${(cpu / (gib * files)).toFixed(2)} CPU s/GiB, RSS ${rss.toFixed(0)} MiB`,
          )
        }
        const first = perPass[0] as number
        const last = perPass[perPass.length - 1] as number
        rows.push([
          `CPU per GiB, ${direction}bound ${p.toUpperCase()} ${options.sizeMb} MiB, pass ${options.passes} vs pass 1`,
          perPass.map((s) => s.toFixed(2)).join(' / '),
          `pass 1: ${first.toFixed(2)} s/GiB`,
          (last / first).toFixed(2),
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
