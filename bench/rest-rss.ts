/**
 * Issue 17: resident memory of the compiled service at rest with one flow of each kind
 * configured (inbound over SFTP, outbound over FTP, status files over SFTP), against a bare
 * Fastify process measured in the same run. Each process is started REST_PASSES times; its RSS is
 * read once it has answered /healthz and then idled for REST_SETTLE_MS (the start-up garbage has
 * had time to be collected; nothing runs on a schedule).
 *
 *   npx tsx bench/rest-rss.ts
 *
 * Every start then moves one large file inbound over SFTP, the service's first transfer, and
 * reports its peak RSS over its resting RSS (sampled every 25 ms): G4 of issue 17.
 *
 * Environment: BENCH_REST_PASSES (BENCH_REPS, 3), BENCH_REST_SETTLE_MS (3000), BENCH_REST_MOVE_MB
 * (2048 × BENCH_SCALE; 0 skips the transfer), BENCH_SERVICE=tsx (see lib.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { type SalesforceSandbox, startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { type GoalRow, printGoalTable, showSpread, spread } from './goals.js'
import {
  benchReps,
  configFor,
  endpointConfig,
  isMain,
  log,
  MB,
  type RemoteServer,
  type ServiceChild,
  scaled,
  serviceEntry,
  spawnService,
  startRemote,
  writeBigFile,
} from './lib.js'

const FILE_OBJECT = 'cg__AccountFile__c'
const PARENT_FIELD = 'cg__Account__c'

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

/** One flow of each kind: what an operator's first configuration holds. */
export function oneFlowPerKind(sftp: string, ftp: string): Record<string, unknown>[] {
  return [
    {
      name: 'in',
      kind: 'inbound',
      source: { endpoint: sftp, directory: '/in' },
      readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
      match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
      target: { fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
      after: { success: 'delete', errorDirectory: '/errors' },
    },
    {
      name: 'out',
      kind: 'outbound',
      source: { object: 'Account', fileObject: FILE_OBJECT, parentField: PARENT_FIELD },
      destination: { endpoint: ftp, directory: '/out' },
    },
    {
      name: 'status',
      kind: 'status',
      source: { endpoint: sftp, directory: '/status/in' },
      format: { type: 'csv' },
      object: 'Account',
      key: { column: 'AccountId', by: 'id' },
      fields: { Rating: { column: 'Rating' } },
      after: { success: 'move', processedDirectory: '/status/done', errorDirectory: '/status/errors' },
    },
  ]
}

/** A bare Fastify process as compiled JavaScript (no tsx loader), answering one route. */
async function bareFastifyRss(settleMs: number): Promise<number> {
  const code = `import Fastify from 'fastify'
const app = Fastify({ logger: false })
app.get('/healthz', async () => ({ ok: true }))
const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(JSON.stringify({ url }) + '\\n')`
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    let url = ''
    for await (const line of lines) {
      url = (JSON.parse(line) as { url: string }).url
      break
    }
    await fetch(`${url}/healthz`).then((r) => r.text())
    await delay(settleMs)
    return await rssMiB(child.pid as number)
  } finally {
    child.kill('SIGTERM')
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
  }
}

/** Moves one file of sizeMb through the inbound flow of a service that has not transferred yet. */
async function firstTransferGrowth(
  svc: ServiceChild,
  sandbox: SalesforceSandbox,
  sftp: RemoteServer,
  sizeMb: number,
  pass: number,
): Promise<{ resting: number; peak: number }> {
  sandbox.insert('Account', { Name: `Rest growth ${pass}`, AccountNumber: `REST-${pass}` })
  await writeBigFile(join(sftp.root, 'in', `REST-${pass}_big.bin`), sizeMb)
  const { result, resting, peak } = await svc.sampled(() => svc.runFlow('in', 250))
  if (result.state !== 'succeeded') throw new Error(`the ${sizeMb} MiB transfer ended ${result.state}`)
  return { resting: resting / MB, peak: peak / MB }
}

export async function benchRestRss(
  passes = Number(process.env.BENCH_REST_PASSES ?? benchReps()),
  settleMs = Number(process.env.BENCH_REST_SETTLE_MS ?? 3000),
  moveMb = Number(process.env.BENCH_REST_MOVE_MB ?? scaled(2048)),
): Promise<{ goals: GoalRow[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-rest-'))
  const sandbox = await startSalesforceSandbox({ maxFileSizeBytes: 6 * 1024 * MB })
  const remotes: RemoteServer[] = []
  try {
    const sftp = await startRemote('sftp')
    remotes.push(sftp)
    const ftp = await startRemote('ftp')
    remotes.push(ftp)
    const config = configFor(sandbox, dir, {
      endpoints: { sftp: endpointConfig(sftp.connection, 2), ftp: endpointConfig(ftp.connection, 2) },
      flows: oneFlowPerKind('sftp', 'ftp'),
    })
    const service: number[] = []
    const bare: number[] = []
    const growth: number[] = []
    const restingBeforeMove: number[] = []
    for (let pass = 1; pass <= passes; pass++) {
      const svc = await spawnService(config, dir)
      try {
        await svc.api('GET', '/v1/flows')
        await delay(settleMs)
        service.push(await rssMiB(svc.pid))
        // Each start then moves one large file, its first transfer: the growth includes everything
        // a first transfer loads and allocates.
        if (moveMb > 0) {
          const moved = await firstTransferGrowth(svc, sandbox, sftp, moveMb, pass)
          growth.push(moved.peak - moved.resting)
          restingBeforeMove.push(moved.resting)
        }
      } finally {
        await svc.close()
      }
      bare.push(await bareFastifyRss(settleMs))
      log(
        `G4 pass ${pass}: service ${service.at(-1)?.toFixed(1)} MiB, bare Fastify ${bare.at(-1)?.toFixed(1)} MiB, first-transfer growth +${growth.at(-1)?.toFixed(1) ?? '-'} MiB`,
      )
    }
    const rest = spread(service)
    const bareRest = spread(bare)
    const goals: GoalRow[] = [
      {
        figure: 'G4 RSS at rest, compiled service, one flow per kind (inbound, outbound, status)',
        measured: showSpread(rest, 1, ' MiB'),
        baseline: `bare Fastify ${showSpread(bareRest, 1, ' MiB')}`,
        ratio: (rest.median / bareRest.median).toFixed(2),
        goal: '≤ 90 MiB',
        met: rest.median <= 90,
      },
    ]
    if (growth.length > 0) {
      const g = spread(growth)
      const r = spread(restingBeforeMove)
      goals.push({
        figure: `G4 peak growth, first transfer after start: ${moveMb} MiB inbound SFTP`,
        measured: showSpread(g, 1, ' MiB'),
        baseline: `at rest ${showSpread(r, 1, ' MiB')}`,
        ratio: ((g.median + r.median) / r.median).toFixed(2),
        goal: '≤ 32 MiB',
        met: g.median <= 32,
      })
    } else
      goals.push({
        figure: 'G4 peak growth, first transfer after start',
        measured: 'not measured (BENCH_REST_MOVE_MB=0)',
        baseline: '',
        ratio: '',
        goal: '≤ 32 MiB',
        met: null,
      })
    return {
      goals,
      notes: [
        `G4: service = ${(await serviceEntry()).label}; RSS read ${settleMs} ms after its first answer, ${passes} starts each; ratio = service / bare Fastify (lower is better), and peak / rest for the growth`,
      ],
    }
  } finally {
    for (const remote of remotes) await remote.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  const { goals, notes } = await benchRestRss()
  printGoalTable(goals)
  for (const n of notes) process.stdout.write(`- ${n}\n`)
}
