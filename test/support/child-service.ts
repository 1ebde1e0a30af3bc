/**
 * The service as a separate process (for SIGKILL / SIGTERM tests), with the
 * sandbox and an in-process SFTP server in the test process, a temp dir,
 * and N ready partner files for one Acme account.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'
import type { SalesforceSandbox } from '../../src/sandbox/salesforce/types.js'
import {
  API_KEY,
  endpointConfig,
  REMOTE_PASSWORD,
  type RemoteServerHandle,
  startRemoteServer,
} from './harness.js'
import { childEnv, compiled } from './service-build.js'

export interface ChildService {
  proc: ChildProcess
  url: string
}

export interface ChildSetup {
  dir: string
  remoteRoot: string
  sandbox: SalesforceSandbox
  remote: RemoteServerHandle
  configPath: string
  env: Record<string, string>
  start(): Promise<ChildService>
  /** Writes a ready (hour-old) partner file into the inbox. */
  dropFile(name: string, content: Buffer): Promise<void>
}

export async function startChild(configPath: string, env: Record<string, string>): Promise<ChildService> {
  const proc = spawn(process.execPath, [compiled('src/server.ts')], {
    env: childEnv({ ...env, BRIDGE_CONFIG: configPath, LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string }
    if (entry.msg === 'sdrive-ftp-bridge listening' && entry.url) {
      // Keep draining stdout so the child never blocks on a full pipe.
      lines.on('line', () => {})
      return { proc, url: entry.url }
    }
  }
  throw new Error('child exited before listening')
}

export async function exitCodeOf(proc: ChildProcess): Promise<number | null> {
  // Ended already ('exit' has fired): by a signal the code is null.
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
  const [code] = (await once(proc, 'exit')) as [number | null]
  return code
}

export async function childApi(child: ChildService, method: string, path: string) {
  const res = await fetch(`${child.url}${path}`, { method, headers: { authorization: `Bearer ${API_KEY}` } })
  return { status: res.status, json: (await res.json()) as any }
}

/** Polls the run over HTTP until it leaves queued/running (the process is another one: no event to await). */
export async function waitForRunOver(child: ChildService, runId: string) {
  for (;;) {
    const run = (await childApi(child, 'GET', `/v1/runs/${runId}`)).json
    if (!['queued', 'running'].includes(run.state)) return run
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Sandbox + SFTP + a config for the `bulk` flow (Acme, filename rule), all torn down with the test. */
export async function childSetup(
  t: Test,
  options: {
    server?: Record<string, unknown>
    queue?: Record<string, unknown>
    /** Replaces the `store` section (PostgreSQL for replicas). */
    store?: Record<string, unknown>
    /** A short run lease, so a restart after SIGKILL takes the dead process's run over quickly. */
    leaseMs?: number
    /** The `notifications` section. */
    notifications?: Record<string, unknown>
    endpoint?: Record<string, unknown>
    /** Additions to the `sdrive` section. */
    sdrive?: Record<string, unknown>
    /** More flows besides `bulk`, given the endpoint's name (`partner`). */
    flows?: (endpoint: string) => Record<string, unknown>[]
    /** Also serve the sandbox's Pub/Sub API; the config's salesforce.pubsub points at it. */
    pubsub?: boolean
  } = {},
): Promise<ChildSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-child-'))
  const remoteRoot = join(dir, 'remote')
  await mkdir(join(remoteRoot, 'inbox'), { recursive: true })
  const sandbox = await startSalesforceSandbox({ pubsub: options.pubsub ?? false })
  const remote = await startRemoteServer('sftp', remoteRoot)
  t.teardown(async () => {
    await remote.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  })
  sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-001' })
  const config = {
    server: { host: '127.0.0.1', port: 0, apiKeys: ['${BRIDGE_API_KEY}'], ...options.server },
    queue: options.queue ?? {},
    store: {
      ...(options.store ?? { sqlitePath: join(dir, 'bridge.sqlite') }),
      ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
    },
    salesforce: {
      loginUrl: sandbox.url,
      auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: '${SF_CLIENT_SECRET}' },
      ...(sandbox.pubsub ? { pubsub: { endpoint: sandbox.pubsub.endpoint, tls: false } } : {}),
    },
    sdrive: { s3UploadUrl: sandbox.s3UploadUrl, ...options.sdrive },
    endpoints: { partner: { ...endpointConfig('sftp', remote), ...options.endpoint } },
    flows: [
      {
        name: 'bulk',
        kind: 'inbound',
        source: { endpoint: 'partner', directory: '/inbox' },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
        match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
        target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        existing: 'duplicate',
        after: { success: 'move', processedDirectory: '/processed', errorDirectory: '/errors' },
        retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
      },
      ...(options.flows?.('partner') ?? []),
    ],
    ...(options.notifications ? { notifications: options.notifications } : {}),
  }
  const configPath = join(dir, 'bridge.json')
  await writeFile(configPath, JSON.stringify(config))
  const env = { BRIDGE_API_KEY: API_KEY, REMOTE_PASSWORD, SF_CLIENT_SECRET: sandbox.clientSecret }
  const old = (Date.now() - 3600_000) / 1000
  return {
    dir,
    remoteRoot,
    sandbox,
    remote,
    configPath,
    env,
    start: () => startChild(configPath, env),
    async dropFile(name, content) {
      const path = join(remoteRoot, 'inbox', name)
      await writeFile(path, content)
      await utimes(path, old, old)
    },
  }
}
