/**
 * G3 of issue 17: a product-image batch, 10,000 × 20 KiB inbound over 100 records, against the
 * raw clients moving the same files (bench/raw-worker.ts), and the Salesforce API calls the
 * service makes per file (counted by the sandbox). Median of BENCH_REPS passes.
 *
 *   npx tsx bench/batch.ts
 *
 * Environment: BENCH_SCALE (see lib.ts), BENCH_BATCH_FILES (10,000 × scale),
 * BENCH_BATCH_PROTOCOL (sftp), BENCH_REPS (3).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { UploadTicket } from '../src/ports/sdrive.js'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { type CpuWindow, cpuWindow } from './cpu.js'
import { cpuCells } from './cpu-row.js'
import { type GoalRow, printGoalTable, showSpread, spread, throughputRow } from './goals.js'
import {
  benchReps,
  configFor,
  endpointConfig,
  isMain,
  KiB,
  log,
  MB,
  type Protocol,
  type RawTask,
  runRawWorkerTimed,
  scaled,
  sdriveClient,
  spawnService,
  startRemote,
  writeSmallFiles,
} from './lib.js'

const SIZE = 20 * KiB
const RECORDS = 100
const CONCURRENCY = 4
const FILE_OBJECT = 'cg__AccountFile__c'
const PARENT_FIELD = 'cg__Account__c'

/** Calls made between two snapshots of the sandbox's counts, by kind, most first. */
function callKindsSince(before: Record<string, number>, after: Record<string, number>): string {
  return Object.entries(after)
    .map(([kind, n]) => [kind, n - (before[kind] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ')
}

export async function benchBatch(
  files = Number(process.env.BENCH_BATCH_FILES ?? scaled(10_000, 20)),
  protocol = (process.env.BENCH_BATCH_PROTOCOL ?? 'sftp') as Protocol,
  reps = benchReps(),
): Promise<{ goals: GoalRow[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-batch-'))
  const sandbox = await startSalesforceSandbox({ maxFileSizeBytes: 64 * MB, dailyApiLimit: 100_000_000 })
  const remote = await startRemote(protocol)
  const P = protocol.toUpperCase()
  try {
    const targets = Array.from({ length: RECORDS }, (_, i) =>
      sandbox.insert('Account', { Name: `Product ${i}`, AccountNumber: `SKU-${i}` }),
    )
    const baseTargets = Array.from({ length: RECORDS }, (_, i) =>
      sandbox.insert('Account', { Name: `Baseline ${i}`, AccountNumber: `BASE-${i}` }),
    )
    const sdrive = sdriveClient(sandbox, dir)
    const svc = await spawnService(
      configFor(sandbox, dir, {
        queue: { maxConcurrentTransfers: CONCURRENCY, maxQueuedItems: files * 2 },
        endpoints: { [protocol]: endpointConfig(remote.connection, CONCURRENCY) },
        flows: [
          {
            name: 'images',
            kind: 'inbound',
            source: { endpoint: protocol, directory: '/in' },
            readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
            match: [{ type: 'filename', pattern: '^(?<AccountNumber>SKU-\\d+)_', object: 'Account' }],
            target: { fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
            after: { success: 'delete', errorDirectory: '/errors' },
            maxFilesPerRun: files,
          },
        ],
      }),
      dir,
    )
    const service: number[] = []
    const baseline: number[] = []
    const callsPerFile: number[] = []
    const svcCpus: CpuWindow[] = []
    const baseCpus: CpuWindow[] = []
    // The last pass's calls by kind: where the calls per file go.
    let callKinds = ''
    try {
      for (let rep = 0; rep < reps; rep++) {
        const names = Array.from({ length: files }, (_, i) => `SKU-${i % RECORDS}_r${rep}-${i}.jpg`)
        await writeSmallFiles(join(remote.root, 'in'), names, SIZE)
        // The baseline reads the same files (the service deletes them afterwards) into its own records.
        const tickets: UploadTicket[] = []
        for (let t = 0; t < RECORDS; t++) {
          const mine = names.filter((_, i) => i % RECORDS === t)
          const got = await sdrive.startUpload(
            { parentId: baseTargets[t] as string, fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
            mine.map((fileName) => ({ fileName, sizeBytes: SIZE, contentType: 'image/jpeg' })),
          )
          got.forEach((ticket, k) => {
            tickets[k * RECORDS + t] = ticket
          })
        }
        const tasks: RawTask[] = names.map((name, i) => ({
          kind: 'inbound',
          remotePath: `/in/${name}`,
          size: SIZE,
          s3Url: sandbox.s3UploadUrl,
          fields: (tickets[i] as UploadTicket).formFields,
          fileName: name,
        }))
        const baseCpu = await runRawWorkerTimed(remote.connection, tasks, CONCURRENCY, dir)
        baseline.push(baseCpu.seconds)
        baseCpus.push(baseCpu)
        const before = sandbox.apiCallCount()
        const kindsBefore = sandbox.calls
        const window = cpuWindow(svc.pid)
        const run = await svc.runFlow('images', 100)
        const svcCpu = window()
        service.push(svcCpu.seconds)
        svcCpus.push(svcCpu)
        callsPerFile.push((sandbox.apiCallCount() - before) / files)
        callKinds = callKindsSince(kindsBefore, sandbox.calls)
        if (run.state !== 'succeeded' || run.counts?.done !== files)
          throw new Error(`batch run ended ${run.state} with ${JSON.stringify(run.counts)}`)
        log(
          `G3 ${P} rep ${rep + 1}: service ${service.at(-1)?.toFixed(2)} s, baseline ${baseline.at(-1)?.toFixed(2)} s, ${callsPerFile.at(-1)?.toFixed(4)} calls/file`,
        )
      }
    } finally {
      await svc.close()
    }
    void targets
    const calls = spread(callsPerFile)
    const cpu = cpuCells('file', files, svcCpus, baseCpus)
    return {
      goals: [
        throughputRow(
          `G3 batch inbound ${P} ${files} × 20 KiB, c=${CONCURRENCY}, ${RECORDS} records`,
          files * SIZE,
          files,
          service,
          baseline,
          0.8,
        ),
        {
          figure: `G3 batch Salesforce calls per file, ${files} files / ${RECORDS} records`,
          measured: showSpread(calls, 4),
          baseline: 'naive 3 (a lookup, a create, a finalize per file)',
          ratio: (calls.median / 3).toFixed(4),
          goal: '< 0.02 per file',
          met: calls.median < 0.02,
        },
      ],
      notes: [
        `G3: ${P} server ${remote.label}; service polled every 100 ms for the run's end`,
        `G3: Salesforce calls of the last pass by kind: ${callKinds}`,
        `G3: CPU per file, the machine's (the mover's own), median of the passes: service ${cpu.measured}; raw client ${cpu.baseline}; raw / service ${cpu.ratio}`,
      ],
    }
  } finally {
    await remote.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  const { goals, notes } = await benchBatch()
  printGoalTable(goals)
  for (const n of notes) process.stdout.write(`- ${n}\n`)
}
