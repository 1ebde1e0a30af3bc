/**
 * End-to-end harness: the Salesforce/S-Drive/S3 sandbox, a real SFTP or FTP(S)
 * server on a temp dir, and the bridge listening on an ephemeral port, all on
 * 127.0.0.1. Tests talk to the bridge over HTTP and look at the servers'
 * state directly. Not a test file (tap runs *.test.ts only).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import type { BridgeOverrides } from '../../src/bridge.js'
import { parseConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/logging/logger.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'
import type { SalesforceSandbox, SalesforceSandboxOptions } from '../../src/sandbox/salesforce/types.js'
import { startSftpServer } from '../../src/sandbox/sftp-server.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import { type RunningServer, startServer } from '../../src/server.js'
import type { RunDetailView as RunDetailT } from '../../src/services/run-views.js'

export type Protocol = 'sftp' | 'ftp' | 'ftps'

export const API_KEY = 'e2e-api-key-0123456789abcdef'
export const REMOTE_PASSWORD = 'remote-pass-Zq8!sekret'
export const SF_SECRET = 'sandbox-client-secret'

/** The source of an outbound flow that exports Opportunities' S-Drive files. */
export const OPPORTUNITY_SOURCE = {
  object: 'Opportunity',
  fileObject: 'cg__OpportunityFile__c',
  parentField: 'cg__Opportunity__c',
} as const

export interface HarnessOptions {
  protocol: Protocol
  /** Flow objects (JSON config); `endpoint` is the name of the harness's endpoint. */
  flows: (endpoint: string) => Record<string, unknown>[]
  sandbox?: SalesforceSandboxOptions
  queue?: Record<string, unknown>
  endpoint?: Record<string, unknown>
  /** Overrides of the `salesforce` section (timeoutMs, maxRetries, …; a function: made from the sandbox, e.g. its Pub/Sub endpoint). */
  salesforce?: Record<string, unknown> | ((sandbox: SalesforceSandbox) => Record<string, unknown>)
  /** Overrides of the `sdrive` section (proxy, …). */
  sdrive?: Record<string, unknown>
  /** Additions to the `server` section (recordSalesforce, …). */
  server?: Record<string, unknown>
  sqlitePath?: string
  /** Overrides of the `store` section (a PostgreSQL URL and schema, …). */
  store?: Record<string, unknown>
  /** The `notifications` section (a function: made from the sandbox, e.g. its webhook receiver's URL). */
  notifications?: Record<string, unknown> | ((sandbox: SalesforceSandbox) => Record<string, unknown>)
  /** More environment variables for `${VAR}` references (secrets of notification channels, …). */
  env?: Record<string, string>
  /** Overrides for the bridge (an injected clock, …) and whether cron schedules run. */
  bridge?: BridgeOverrides & { schedules?: boolean }
  /** A server to use instead of the in-process one for `protocol` (a real daemon). */
  remoteServer?: ExternalRemoteServer
}

/** Serves the harness's remote root with something else; the endpoint it gives replaces the default one. */
export interface ExternalRemoteServer {
  /** Parent of the harness's temp dir (sshd's ChrootDirectory wants root-owned parents; /tmp is not). */
  rootParent?: string
  start(root: string): Promise<{
    remote: RemoteServerHandle
    /** Endpoint fields; secrets as `${VAR}` references whose values are in `env`. */
    endpoint: Record<string, unknown>
    env?: Record<string, string>
  }>
}

export interface RemoteServerHandle {
  host: string
  port: number
  close(): Promise<void>
  hostKeySha256?: string
}

export interface Harness {
  sandbox: SalesforceSandbox
  remoteRoot: string
  remote: RemoteServerHandle
  server: RunningServer
  url: string
  logs: string[]
  configText: string
  env: Record<string, string>
  put(relPath: string, content: string | Buffer, options?: { ageSeconds?: number }): Promise<void>
  exists(relPath: string): Promise<boolean>
  read(relPath: string): Promise<string>
  list(relDir: string): Promise<string[]>
  api(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<{
    status: number
    headers: Headers
    json: any
  }>
  runAndWait(flow: string): Promise<RunDetailT>
  waitForRun(runId: string): Promise<RunDetailT>
  close(): Promise<void>
}

export async function startRemoteServer(protocol: Protocol, root: string): Promise<RemoteServerHandle> {
  if (protocol === 'sftp') {
    return startSftpServer({ root, users: [{ username: 'partner', password: REMOTE_PASSWORD }] })
  }
  return startFtpServer({
    root,
    username: 'partner',
    password: REMOTE_PASSWORD,
    tls: protocol === 'ftps' ? 'explicit' : false,
  })
}

export function endpointConfig(protocol: Protocol, remote: RemoteServerHandle): Record<string, unknown> {
  return {
    protocol,
    host: '127.0.0.1',
    port: remote.port,
    username: 'partner',
    password: '${REMOTE_PASSWORD}',
    maxConnections: 2,
    connectTimeoutMs: 5000,
    operationTimeoutMs: 10_000,
    ...(protocol === 'sftp' ? { hostKeySha256: remote.hostKeySha256 } : {}),
    ...(protocol === 'ftps' ? { tls: { ca: caPem } } : {}),
  }
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const dir = await mkdtemp(join(options.remoteServer?.rootParent ?? tmpdir(), 'bridge-e2e-'))
  const remoteRoot = join(dir, 'remote')
  await mkdir(remoteRoot, { recursive: true })
  const sandbox = await startSalesforceSandbox(options.sandbox ?? {})
  const external = options.remoteServer ? await options.remoteServer.start(remoteRoot) : null
  const remote = external?.remote ?? (await startRemoteServer(options.protocol, remoteRoot))

  const env = {
    BRIDGE_API_KEY: API_KEY,
    REMOTE_PASSWORD,
    SF_CLIENT_SECRET: sandbox.clientSecret,
    ...(external?.env ?? {}),
    ...(options.env ?? {}),
  }
  const config = {
    server: { host: '127.0.0.1', port: 0, apiKeys: ['${BRIDGE_API_KEY}'], ...(options.server ?? {}) },
    queue: options.queue ?? {},
    store: { sqlitePath: options.sqlitePath ?? join(dir, 'bridge.sqlite'), ...(options.store ?? {}) },
    salesforce: {
      loginUrl: sandbox.url,
      auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: '${SF_CLIENT_SECRET}' },
      timeoutMs: 10_000,
      maxRetries: 3,
      // Tests inject API-limit faults: a probe every 100 ms instead of every minute.
      apiLimitProbeIntervalMs: 100,
      ...(typeof options.salesforce === 'function'
        ? options.salesforce(sandbox)
        : (options.salesforce ?? {})),
    },
    sdrive: { s3UploadUrl: sandbox.s3UploadUrl, uploadTimeoutMs: 10_000, ...(options.sdrive ?? {}) },
    endpoints: {
      partner: {
        ...(external?.endpoint ?? endpointConfig(options.protocol, remote)),
        ...(options.endpoint ?? {}),
      },
    },
    flows: options.flows('partner'),
    ...(options.notifications
      ? {
          notifications:
            typeof options.notifications === 'function'
              ? options.notifications(sandbox)
              : options.notifications,
        }
      : {}),
  }
  const configText = JSON.stringify(config, null, 2)
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'))
      cb()
    },
  })
  const logger: Logger = createLogger({ level: 'debug', destination: sink })
  const server = await startServer(parseConfig(configText, 'json', env), logger, {
    schedules: false,
    ...(options.bridge ?? {}),
  }).catch(async (error: unknown) => {
    // A daemon must not outlive a harness that did not start.
    await remote.close()
    await sandbox.close()
    throw error
  })

  const api: Harness['api'] = async (method, path, opts = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.headers ?? {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    })
    const text = await res.text()
    let json: unknown = text
    try {
      json = JSON.parse(text)
    } catch {}
    return { status: res.status, headers: res.headers, json }
  }

  const waitForRun = async (runId: string): Promise<RunDetailT> => {
    await server.bridge.engine.settled(runId)
    const res = await api('GET', `/v1/runs/${runId}`)
    return res.json as RunDetailT
  }

  return {
    sandbox,
    remoteRoot,
    remote,
    server,
    url: server.url,
    logs,
    configText,
    env,
    async put(relPath, content, opts = {}) {
      const path = join(remoteRoot, relPath)
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, content)
      const age = opts.ageSeconds ?? 3600
      const t = (Date.now() - age * 1000) / 1000
      await utimes(path, t, t)
    },
    async exists(relPath) {
      return stat(join(remoteRoot, relPath)).then(
        () => true,
        () => false,
      )
    },
    read: (relPath) => readFile(join(remoteRoot, relPath), 'utf8'),
    async list(relDir) {
      return (await readdir(join(remoteRoot, relDir)).catch(() => [] as string[])).sort()
    },
    api,
    async runAndWait(flow) {
      const res = await api('POST', `/v1/flows/${flow}/runs`)
      if (res.status !== 202) throw new Error(`run did not start: ${res.status} ${JSON.stringify(res.json)}`)
      return waitForRun(res.json.runId)
    },
    waitForRun,
    async close() {
      await server.close()
      await remote.close()
      await sandbox.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Seeds the accounts, orders and opportunities the standard flows match against. */
export function seedRecords(sandbox: SalesforceSandbox) {
  return {
    acme: sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-001' }),
    globex: sandbox.insert('Account', { Name: 'Globex', AccountNumber: 'GLOBEX-7' }),
    obrien: sandbox.insert('Account', { Name: "O'Brien Ltd", AccountNumber: "O'BRIEN-1" }),
    twin1: sandbox.insert('Account', { Name: 'Twin A', AccountNumber: 'TWIN-1' }),
    twin2: sandbox.insert('Account', { Name: 'Twin B', AccountNumber: 'TWIN-1' }),
    opp: sandbox.insert('Opportunity', { Name: 'Big deal', StageName: 'Prospecting' }),
  }
}

/** The standard inbound flow: name lookup, record id, folder template, in that order. */
export function standardFlow(
  endpoint: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: 'partner-docs',
    kind: 'inbound',
    source: { endpoint, directory: '/inbox', include: ['**/*.pdf', '**/*.txt'], recursive: true },
    readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
    match: [
      { type: 'folder', template: 'accounts/{AccountNumber}', object: 'Account' },
      { type: 'filename', pattern: "^(?<AccountNumber>[A-Z']+-\\d+)_", object: 'Account' },
      {
        type: 'recordId',
        object: 'Opportunity',
        target: { fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
      },
    ],
    target: {
      fileObject: 'cg__AccountFile__c',
      parentField: 'cg__Account__c',
      description: 'From {flow}: {file.name}',
    },
    existing: 'skip',
    after: { success: 'move', processedDirectory: '/processed', errorDirectory: '/errors' },
    retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    ...overrides,
  }
}

export function sdriveFiles(sandbox: SalesforceSandbox, object = 'cg__AccountFile__c') {
  return sandbox.records(object).filter((r) => r.cg__WIP__c === false && r.cg__Is_Deleted__c !== true)
}

export function wipRecords(sandbox: SalesforceSandbox, object = 'cg__AccountFile__c') {
  return sandbox.records(object).filter((r) => r.cg__WIP__c === true)
}
