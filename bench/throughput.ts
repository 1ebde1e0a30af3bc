/**
 * The transfer figures of issue 17's goal table, from one service process:
 *   G1  inbound and outbound 1,000 × 100 KiB, SFTP and FTP, c=4
 *   G2  inbound and outbound one 2 GiB file, SFTP and FTP
 * and the extra figures kept from issue 6:
 *   3   peak RSS of the service over its resting RSS during each G2 pass
 *   4   Salesforce API calls per file for the G1 runs, both directions
 *   6   inbound 1,000 × 100 KiB at 1 and 2 concurrent transfers per endpoint (c=4 is G1)
 *   7   CPU per file (G1) and per GiB (G2) of the whole machine and of the mover alone, service
 *       and baseline: the service, the SFTP/FTP server and the S3 emulator share the cores
 * Every figure is the median of BENCH_REPS passes (3), each pass the baseline
 * (bench/raw-worker.ts: the raw clients moving the same bytes at the same
 * concurrency) then the service.
 *
 *   npx tsx bench/throughput.ts
 *   BENCH_SCALE=0.05 npx tsx bench/throughput.ts
 *
 * Environment: BENCH_SCALE (see lib.ts), BENCH_FILES (1000 × scale), BENCH_BIG_MB
 * (2048 × scale; 256 × scale for the in-process SFTP server; 0 skips G2 and 3),
 * BENCH_REPS (3), BENCH_SWEEP=0 (skip figure 6), BENCH_SFTP_SERVER=inprocess,
 * BENCH_FTP_SERVER=inprocess (the JavaScript servers instead of OpenSSH / vsftpd),
 * BENCH_CPU_PROF=DIR (V8 CPU profiles of the service processes).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { UploadTicket } from '../src/ports/sdrive.js'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { type CpuWindow, cpuWindow } from './cpu.js'
import { cpuCells } from './cpu-row.js'
import { type GoalRow, printGoalTable, throughputRow } from './goals.js'
import {
  benchReps,
  configFor,
  endpointConfig,
  isMain,
  KiB,
  log,
  MB,
  median,
  type Protocol,
  printTable,
  type RawTask,
  type RemoteServer,
  type Row,
  ratio,
  runRawWorkerTimed,
  type ServiceChild,
  scaled,
  sdriveClient,
  seconds,
  spawnService,
  sshdUnavailable,
  startRemote,
  vsftpdUnavailable,
  writeBigFile,
  writeSmallFiles,
} from './lib.js'

const RECORDS = 10
const SMALL = 100 * KiB
const FILE_OBJECT = 'cg__AccountFile__c'
const PARENT_FIELD = 'cg__Account__c'
const PROTOCOLS: Protocol[] = ['sftp', 'ftp']

export interface ThroughputOptions {
  files: number
  reps: number
  /** Large file size per protocol, MiB. */
  bigMb: Record<Protocol, number>
  /** Figure 6: the same inbound runs at c=1 and c=2. */
  sweep: boolean
  concurrency: number
}

export function defaultThroughputOptions(): { options: ThroughputOptions; notes: string[] } {
  const notes: string[] = []
  const noSshd = sshdUnavailable()
  const env = process.env.BENCH_BIG_MB ? Number(process.env.BENCH_BIG_MB) : undefined
  // The in-process JS SFTP server moves ~18 MB/s on this machine: 2 GiB would take minutes per pass.
  const sftpBig = env ?? scaled(noSshd ? 256 : 2048)
  if (noSshd && env === undefined)
    notes.push(
      `SFTP large file scaled to ${sftpBig} MiB: OpenSSH sshd cannot run here (${noSshd}), and the in-process JS SFTP server is too slow for 2 GiB`,
    )
  const noVsftpd = vsftpdUnavailable()
  if (noVsftpd)
    notes.push(
      `FTP served by the in-process ftp-srv: vsftpd cannot run here (${noVsftpd}); ftp-srv answers each transfer ~40 ms late, so FTP small-file figures measure it more than the service`,
    )
  return {
    options: {
      files: Number(process.env.BENCH_FILES ?? scaled(1000, 8)),
      reps: benchReps(),
      bigMb: { sftp: sftpBig, ftp: env ?? scaled(2048) },
      sweep: process.env.BENCH_SWEEP !== '0',
      concurrency: 4,
    },
    notes,
  }
}

export interface ThroughputResult {
  goals: GoalRow[]
  /** Figures 3, 4 and 6 of issue 6, in its four-column layout. */
  extras: Row[]
  notes: string[]
}

export async function benchThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const goals: GoalRow[] = []
  const rows: Row[] = []
  /** Figure 7, printed after the others. */
  const cpuRows: Row[] = []
  const notes: string[] = []
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-tp-'))
  const sandbox = await startSalesforceSandbox({ maxFileSizeBytes: 6 * 1024 * MB })
  const accounts = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) =>
      sandbox.insert('Account', { Name: `${prefix} ${i}`, AccountNumber: `${prefix}-${i}` }),
    )
  const acct = accounts('ACCT', RECORDS) // inbound targets of the service
  const base = accounts('BASE', RECORDS) // inbound targets of the baseline
  const out = accounts('OUT', RECORDS) // outbound sources (seeded once)
  const big = accounts('BIG', options.reps * PROTOCOLS.length) // one large file each, from the service's inbound runs
  void acct
  const sdrive = sdriveClient(sandbox, dir)
  const remotes = {} as Record<Protocol, RemoteServer>
  for (const p of PROTOCOLS) {
    remotes[p] = await startRemote(p)
    notes.push(`${p.toUpperCase()} server: ${remotes[p].label}`)
  }

  const serviceConfig = (concurrency: number) =>
    configFor(sandbox, dir, {
      queue: { maxConcurrentTransfers: concurrency },
      endpoints: Object.fromEntries(
        PROTOCOLS.map((p) => [p, endpointConfig(remotes[p].connection, concurrency)]),
      ),
      flows: PROTOCOLS.flatMap((p) => [
        {
          name: `in-${p}`,
          kind: 'inbound',
          source: { endpoint: p, directory: '/in' },
          readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
          match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
          target: { fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
          after: { success: 'delete', errorDirectory: '/errors' },
        },
        {
          name: `out-${p}`,
          kind: 'outbound',
          source: { object: 'Account', fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
          destination: { endpoint: p, directory: '/out/{AccountNumber}', existing: 'overwrite' },
        },
      ]),
    })

  /** Tickets for files to go to `targets` (round robin), one S-Drive POST per target. */
  const ticketsFor = async (names: string[], size: number, targets: string[]) => {
    const byTarget = new Map<string, number[]>()
    names.forEach((_, i) => {
      const t = targets[i % targets.length] as string
      byTarget.set(t, [...(byTarget.get(t) ?? []), i])
    })
    const tickets: UploadTicket[] = []
    for (const [parentId, idx] of byTarget) {
      const got = await sdrive.startUpload(
        { parentId, fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
        idx.map((i) => ({
          fileName: names[i] as string,
          sizeBytes: size,
          contentType: 'application/octet-stream',
        })),
      )
      got.forEach((t, k) => {
        tickets[idx[k] as number] = t
      })
    }
    return tickets
  }

  const inboundTasks = (names: string[], size: number, tickets: UploadTicket[]): RawTask[] =>
    names.map((name, i) => {
      const t = tickets[i] as UploadTicket
      return {
        kind: 'inbound',
        remotePath: `/in/${name}`,
        size,
        s3Url: sandbox.s3UploadUrl,
        fields: t.formFields,
        fileName: name,
      }
    })

  const outboundTasks = async (parentIds: string[]): Promise<RawTask[]> => {
    const files = await sdrive.findFiles(FILE_OBJECT, PARENT_FIELD, parentIds)
    const urls = await sdrive.downloadUrls(files)
    return files.map((f, i) => ({
      kind: 'outbound',
      downloadUrl: urls[i] as string,
      remotePath: `/outbase/${f.parentId}-${f.fileName}`,
    }))
  }

  const clearOut = async (p: Protocol) => {
    await rm(join(remotes[p].root, 'out'), { recursive: true, force: true })
    await rm(join(remotes[p].root, 'outbase'), { recursive: true, force: true })
    await mkdir(join(remotes[p].root, 'outbase'), { recursive: true })
  }

  /** Figure 7: CPU per unit moved over the timed windows, the machine's and the mover's own. */
  const cpuRow = (
    figure: string,
    unit: 'file' | 'GiB',
    units: number,
    svc: CpuWindow[],
    base: CpuWindow[],
  ): Row => {
    const cells = cpuCells(unit, units, svc, base)
    return [
      `7 CPU per ${unit}, ${figure}: the machine's (the mover's own)`,
      cells.measured,
      cells.baseline,
      cells.ratio,
    ]
  }

  let runCounter = 0
  /** One pass of 1,000 small files inbound: baseline then service. */
  const smallInbound = async (svc: ServiceChild, p: Protocol, concurrency: number, files: number) => {
    const r = runCounter++
    const names = Array.from({ length: files }, (_, i) => `ACCT-${i % RECORDS}_r${r}-${i}.bin`)
    await writeSmallFiles(join(remotes[p].root, 'in'), names, SMALL)
    const tickets = await ticketsFor(names, SMALL, base)
    const baseCpu = await runRawWorkerTimed(
      remotes[p].connection,
      inboundTasks(names, SMALL, tickets),
      concurrency,
      dir,
    )
    await sdrive.completeUpload(
      tickets.map((t) => t.wipFileId),
      tickets.map(() => null),
    )
    const before = sandbox.apiCallCount()
    const window = cpuWindow(svc.pid)
    const run = await svc.runFlow(`in-${p}`)
    const svcCpu = window()
    const calls = sandbox.apiCallCount() - before
    if (run.state !== 'succeeded' || run.counts?.done !== files)
      throw new Error(`in-${p} run ended ${run.state} with ${JSON.stringify(run.counts)}`)
    return { baseS: baseCpu.seconds, svcS: svcCpu.seconds, calls, svcCpu, baseCpu }
  }

  const growth = (x: { resting: number; peak: number }) => (x.peak - x.resting) / MB
  let bigIdx = 0
  /** G2 for one protocol: BENCH_REPS passes of one large file in, then out; figure 3 beside it. */
  const largeFile = async (svc: ServiceChild, p: Protocol, sizeMb: number): Promise<GoalRow[]> => {
    const P = p.toUpperCase()
    const size = sizeMb * MB
    const cpu = () => ({ svc: [] as CpuWindow[], base: [] as CpuWindow[] })
    const inb = { svc: [] as number[], base: [] as number[], growth: [] as number[], cpu: cpu() }
    const outb = { svc: [] as number[], base: [] as number[], growth: [] as number[], cpu: cpu() }
    const timed = (side: typeof inb, svcCpu: CpuWindow, baseCpu: CpuWindow) => {
      side.svc.push(svcCpu.seconds)
      side.base.push(baseCpu.seconds)
      side.cpu.svc.push(svcCpu)
      side.cpu.base.push(baseCpu)
    }
    for (let rep = 0; rep < options.reps; rep++) {
      const account = big[bigIdx] as string
      const name = `BIG-${bigIdx++}_big.bin`
      await writeBigFile(join(remotes[p].root, 'in', name), sizeMb)
      const [ticket] = await ticketsFor([name], size, base)
      const inBase = await runRawWorkerTimed(
        remotes[p].connection,
        inboundTasks([name], size, [ticket as UploadTicket]),
        1,
        dir,
      )
      const inWindow = cpuWindow(svc.pid)
      const inRun = await svc.sampled(() => svc.runFlow(`in-${p}`))
      timed(inb, inWindow(), inBase)
      inb.growth.push(growth(inRun))
      if (inRun.result.state !== 'succeeded' || inRun.result.counts?.done !== 1)
        throw new Error(`large in-${p} run ended ${inRun.result.state}`)
      await clearOut(p)
      const outBase = await runRawWorkerTimed(remotes[p].connection, await outboundTasks([account]), 1, dir)
      const outWindow = cpuWindow(svc.pid)
      const outRun = await svc.sampled(() => svc.exportRecords(`out-${p}`, [account]))
      timed(outb, outWindow(), outBase)
      outb.growth.push(growth(outRun))
      if (outRun.result.state !== 'succeeded' || outRun.result.counts?.done !== 1)
        throw new Error(`large out-${p} job ended ${outRun.result.state}`)
      await clearOut(p)
      log(
        `G2 ${P} ${sizeMb} MiB rep ${rep + 1}: in ${inb.svc.at(-1)?.toFixed(2)} s (baseline ${inb.base.at(-1)?.toFixed(2)} s), out ${outb.svc.at(-1)?.toFixed(2)} s (baseline ${outb.base.at(-1)?.toFixed(2)} s)`,
      )
    }
    rows.push([
      `3 service peak RSS growth, ${P} ${sizeMb} MiB in / out (median of ${options.reps})`,
      `+${median(inb.growth).toFixed(0)} / +${median(outb.growth).toFixed(0)} MiB`,
      `max +${Math.max(...inb.growth).toFixed(0)} / +${Math.max(...outb.growth).toFixed(0)} MiB`,
      '',
    ])
    const gib = sizeMb / 1024
    cpuRows.push(cpuRow(`G2 inbound ${P} 1 × ${sizeMb} MiB`, 'GiB', gib, inb.cpu.svc, inb.cpu.base))
    cpuRows.push(cpuRow(`G2 outbound ${P} 1 × ${sizeMb} MiB`, 'GiB', gib, outb.cpu.svc, outb.cpu.base))
    return [
      throughputRow(`G2 inbound ${P} 1 × ${sizeMb} MiB`, size, 1, inb.svc, inb.base, 0.9),
      throughputRow(`G2 outbound ${P} 1 × ${sizeMb} MiB`, size, 1, outb.svc, outb.base, 0.9),
    ]
  }

  log('starting the service')
  const svc = await spawnService(serviceConfig(options.concurrency), dir)
  log(`service pid ${svc.pid} at ${svc.url}`)
  const cleanups: (() => Promise<void>)[] = [
    () => svc.close(),
    ...PROTOCOLS.map((p) => () => remotes[p].close()),
    () => sandbox.close(),
    () => rm(dir, { recursive: true, force: true }),
  ]
  try {
    // Warm up: token, pools, JIT.
    for (const p of PROTOCOLS) {
      await smallInbound(svc, p, options.concurrency, Math.min(20, options.files))
      log(`warm-up ${p} done`)
    }

    // Outbound source data: 1,000 × 100 KiB over the OUT accounts, through the real S-Drive protocol.
    {
      const names = Array.from({ length: options.files }, (_, i) => `OUT-${i % RECORDS}_doc-${i}.bin`)
      const tickets = await ticketsFor(names, SMALL, out)
      const { Readable } = await import('node:stream')
      const body = Buffer.alloc(SMALL, 7)
      for (const t of tickets)
        await sdrive.uploadToS3(t, Readable.from([body]), SMALL, 'application/octet-stream')
      await sdrive.completeUpload(
        tickets.map((t) => t.wipFileId),
        tickets.map(() => null),
      )
    }

    const bytes = options.files * SMALL
    // Figure 6 at the default concurrency is figure 1a: the same files, service and baseline.
    const scaleAtDefault = {} as Record<Protocol, { svcS: number; baseS: number }>
    for (const p of PROTOCOLS) {
      const P = p.toUpperCase()
      // Figure 1a + 4 (inbound)
      const inb: Awaited<ReturnType<typeof smallInbound>>[] = []
      for (let rep = 0; rep < options.reps; rep++) {
        inb.push(await smallInbound(svc, p, options.concurrency, options.files))
        log(
          `1a ${P} rep ${rep + 1}: service ${inb.at(-1)?.svcS.toFixed(2)} s, baseline ${inb.at(-1)?.baseS.toFixed(2)} s`,
        )
      }
      const svcS = median(inb.map((x) => x.svcS))
      const baseS = median(inb.map((x) => x.baseS))
      scaleAtDefault[p] = { svcS, baseS }
      const g1 = `G1 inbound ${P} ${options.files} × 100 KiB, c=${options.concurrency}`
      goals.push(
        throughputRow(
          g1,
          bytes,
          options.files,
          inb.map((x) => x.svcS),
          inb.map((x) => x.baseS),
          0.85,
        ),
      )
      cpuRows.push(
        cpuRow(
          g1,
          'file',
          options.files,
          inb.map((x) => x.svcCpu),
          inb.map((x) => x.baseCpu),
        ),
      )
      const inCalls = median(inb.map((x) => x.calls))
      rows.push([
        `4 SF API calls/file, inbound ${P} ${options.files} files / ${RECORDS} records`,
        `${(inCalls / options.files).toFixed(4)} (${inCalls} calls; target < 0.05)`,
        `naive 3.0000 (${options.files * 3} calls)`,
        ratio(inCalls, options.files * 3),
      ])

      // Figure 2a + 4 (outbound export)
      const outb: { baseS: number; svcS: number; calls: number; svcCpu: CpuWindow; baseCpu: CpuWindow }[] = []
      for (let rep = 0; rep < options.reps; rep++) {
        await clearOut(p)
        const tasks = await outboundTasks(out)
        const baseCpu = await runRawWorkerTimed(remotes[p].connection, tasks, options.concurrency, dir)
        const before = sandbox.apiCallCount()
        const window = cpuWindow(svc.pid)
        const job = await svc.exportRecords(`out-${p}`, out)
        const svcCpu = window()
        const calls = sandbox.apiCallCount() - before
        if (job.state !== 'succeeded' || job.counts?.done !== options.files)
          throw new Error(`out-${p} job ended ${job.state} with ${JSON.stringify(job.counts)}`)
        outb.push({ baseS: baseCpu.seconds, svcS: svcCpu.seconds, calls, svcCpu, baseCpu })
        log(
          `2a ${P} rep ${rep + 1}: service ${svcCpu.seconds.toFixed(2)} s, baseline ${baseCpu.seconds.toFixed(2)} s`,
        )
      }
      await clearOut(p)
      const g1out = `G1 outbound ${P} ${options.files} × 100 KiB, c=${options.concurrency}`
      goals.push(
        throughputRow(
          g1out,
          bytes,
          options.files,
          outb.map((x) => x.svcS),
          outb.map((x) => x.baseS),
          0.85,
        ),
      )
      cpuRows.push(
        cpuRow(
          g1out,
          'file',
          options.files,
          outb.map((x) => x.svcCpu),
          outb.map((x) => x.baseCpu),
        ),
      )
      const outCalls = median(outb.map((x) => x.calls))
      rows.push([
        `4 SF API calls/file, export ${P} ${options.files} files / ${RECORDS} records`,
        `${(outCalls / options.files).toFixed(4)} (${outCalls} calls; target < 0.05)`,
        `naive 3.0000 (${options.files * 3} calls)`,
        ratio(outCalls, options.files * 3),
      ])
    }

    // G2 and figure 3: one large file, BENCH_REPS passes per protocol; RSS of the service child.
    for (const p of PROTOCOLS) {
      const sizeMb = options.bigMb[p]
      if (sizeMb > 0) goals.push(...(await largeFile(svc, p, sizeMb)))
    }
    await svc.close()
    cleanups.shift()

    // Figure 6: inbound 1,000 × 100 KiB at 1, 2, 4 concurrent transfers per endpoint.
    if (options.sweep) {
      const scaleRow = (p: Protocol, c: number, svcS: number, baseS: number, how: string): Row => [
        `6 inbound ${p.toUpperCase()} ${options.files} × 100 KiB, c=${c} (${how})`,
        `${(options.files / svcS).toFixed(0)} files/s`,
        `${(options.files / baseS).toFixed(0)} files/s`,
        ratio(baseS, svcS),
      ]
      for (const c of [1, 2, 4].filter((n) => n < options.concurrency)) {
        const scaled = await spawnService(serviceConfig(c), dir)
        try {
          for (const p of PROTOCOLS) {
            await smallInbound(scaled, p, c, 20)
            const { svcS, baseS } = await smallInbound(scaled, p, c, options.files)
            log(`6 ${p.toUpperCase()} c=${c}: service ${svcS.toFixed(2)} s, baseline ${baseS.toFixed(2)} s`)
            rows.push(scaleRow(p, c, svcS, baseS, '1 pass'))
          }
        } finally {
          await scaled.close()
        }
      }
      for (const p of PROTOCOLS) {
        const { svcS, baseS } = scaleAtDefault[p]
        rows.push(scaleRow(p, options.concurrency, svcS, baseS, `= 1a, median of ${options.reps}`))
      }
    }
  } finally {
    for (const c of cleanups) await c().catch(() => {})
  }
  return { goals, extras: [...rows, ...cpuRows], notes }
}

if (isMain(import.meta.url)) {
  const t0 = process.hrtime.bigint()
  const { options, notes: pre } = defaultThroughputOptions()
  const { goals, extras, notes } = await benchThroughput(options)
  printGoalTable(goals)
  printTable(extras)
  for (const n of [...pre, ...notes]) process.stdout.write(`- ${n}\n`)
  process.stdout.write(`total ${seconds(t0).toFixed(0)} s\n`)
}
