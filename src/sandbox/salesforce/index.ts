/** startSalesforceSandbox: Salesforce (OAuth, REST, SOQL), S-Drive's files resource and an S3 bucket, on one port. */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sessions } from './auth.js'
import { DataApi } from './data-api.js'
import { Faults, REST_TARGETS, Usage } from './faults.js'
import { IdAllocator } from './ids.js'
import { SandboxNotifications } from './notifications.js'
import { EventBus } from './pubsub/bus.js'
import { startPubSubSandbox } from './pubsub/server.js'
import { S3Store } from './s3-store.js'
import { SDriveFiles } from './sdrive.js'
import { createRequestHandler } from './server.js'
import { RecordStore } from './store.js'
import type { SalesforceSandbox, SalesforceSandboxOptions, SandboxPubSub } from './types.js'

export { REST_TARGETS, SALESFORCE_FAULTS } from './faults.js'
export type * from './types.js'

const GIB = 1024 * 1024 * 1024

/** Who the sandbox is and where it answers: fixed once it listens. */
interface SandboxIdentity {
  url: string
  orgId: string
  clientId: string
  clientSecret: string
  bucket: string
  now: () => number
}

/** Salesforce, S-Drive and S3 over the records and objects they share, as one request handler. */
function assembleSandbox(options: SalesforceSandboxOptions, identity: SandboxIdentity, dataDir: string) {
  const { url, orgId, clientId, clientSecret, bucket, now } = identity
  const ids = new IdAllocator()
  const variant = options.variant ?? {}
  const installed = variant.installed ?? true
  const store = new RecordStore(ids, now, {
    packaged: installed,
    versions: variant.versions ?? true,
    readOnlyFields: new Set((options.readOnlyFields ?? []).map((f) => f.toLowerCase())),
  })
  for (const name of options.fileObjects ?? []) store.defineFileObject(name)
  seedOrgRows(store, installed ? (variant.version ?? [2, 27]) : null)
  const usage = new Usage(options.dailyApiLimit ?? 15000)
  const faults = new Faults()
  const sessions = new Sessions({
    url,
    orgId,
    clientId,
    clientSecret,
    jwtPublicKeys: options.jwtPublicKeys ?? {},
    sessionTtlMs: options.sessionTtlMs,
    now,
  })
  const credentials = {
    accessKeyId: 'AKIASANDBOX',
    secretAccessKey: randomBytes(30).toString('base64'),
    region: options.awsRegion ?? 'us-east-1',
  }
  const s3Store = new S3Store(dataDir, options.versionedBucket ?? false)
  const sdrive = new SDriveFiles({
    store,
    s3: s3Store,
    credentials,
    bucket,
    origin: url,
    now,
    maxFileSizeBytes: options.maxFileSizeBytes ?? 5 * GIB,
    postResponseShape: options.postResponseShape ?? 'array',
    idListEncoding: variant.idListEncoding ?? 'either',
    encryption: variant.encryption ?? true,
    versions: variant.versions ?? true,
    resultNames: variant.resultNames ?? {
      list: 'resultObjects',
      id: 'wipFileId',
      success: 'success',
      message: 'message',
    },
  })
  const notifications = new SandboxNotifications(now)
  const data = new DataApi(
    store,
    () => ({ used: usage.used, limit: usage.limit }),
    options.fieldTypes ?? {},
    notifications,
  )
  const handler = createRequestHandler({
    sdriveInstalled: installed,
    sessions,
    usage,
    faults,
    data,
    sdrive,
    s3: { bucket, credentials, store: s3Store, now, origin: url },
    notifications,
  })
  return { store, usage, faults, sessions, s3Store, notifications, handler }
}

/** The rows an org has before anyone writes: its Organization and, with S-Drive installed, S-Drive's Publisher. */
function seedOrgRows(store: RecordStore, sdriveVersion: [number, number] | null): void {
  store.seed('Organization', {
    Name: 'Sandbox Org',
    OrganizationType: 'Enterprise Edition',
    IsSandbox: true,
    InstanceName: 'SANDBOX1',
  })
  if (sdriveVersion) {
    store.seed('Publisher', {
      Name: 'CyanGate',
      NamespacePrefix: 'cg',
      MajorVersion: sdriveVersion[0],
      MinorVersion: sdriveVersion[1],
      IsSalesforce: false,
    })
  }
}

type SandboxParts = Omit<ReturnType<typeof assembleSandbox>, 'handler'>

/** What tests, the demo and `npm run sandbox` hold of a started sandbox. */
function sandboxHandle(
  identity: SandboxIdentity,
  { store, usage, faults, sessions, s3Store, notifications }: SandboxParts,
  close: () => Promise<void>,
  pubsub: SandboxPubSub | null,
): SalesforceSandbox {
  const { url, bucket, orgId, clientId, clientSecret } = identity
  return {
    pubsub,
    url,
    s3UploadUrl: `${url}/s3/${bucket}/`,
    orgId,
    clientId,
    clientSecret,
    insert: (sobject, fields) => store.seed(sobject, fields),
    addValidationRule: (sobject, field, check) => store.addValidationRule(sobject, field, check),
    records: (sobject, recordOptions) => {
      const table = store.existingTable(sobject)
      return table ? store.list(table, recordOptions?.includeDeleted ?? false).map((r) => ({ ...r })) : []
    },
    s3Object: (key) => s3Store.bytes(key),
    s3Keys: () => s3Store.keys(),
    failNext: (target, count, spec) => faults.add(target, count, spec),
    failEvery: (targets, every, spec) =>
      faults.addPeriodic(
        targets === 'rest' ? REST_TARGETS : typeof targets === 'string' ? [targets] : targets,
        every,
        spec,
      ),
    corruptUploads: (fileNames) => s3Store.corruptUploads(fileNames),
    clearFaults: () => {
      faults.clear()
      s3Store.corruptUploads([])
    },
    injectedFaults: () => ({ ...faults.injected }),
    expireSessions: () => sessions.expireAll(),
    setApiUsage: (used) => {
      usage.used = used
    },
    get calls() {
      return { ...usage.counts }
    },
    apiCallCount: () => usage.apiCalls(),
    webhookUrl: (name = 'default') => `${url}/sandbox/webhooks/${name}`,
    webhookDeliveries: (name) =>
      notifications.deliveries.filter((d) => name === undefined || d.name === name).map((d) => ({ ...d })),
    respondToWebhooks: (statuses) => notifications.respondToWebhooks(statuses),
    emails: () => notifications.emails.map((e) => ({ ...e })),
    platformEvents: () => notifications.platformEvents.map((e) => ({ ...e })),
    waitForWebhooks: (count, name) => notifications.waitFor('webhook', count, name),
    waitForEmails: (count) => notifications.waitFor('email', count),
    waitForPlatformEvents: (count) => notifications.waitFor('event', count),
    close,
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

export async function startSalesforceSandbox(
  options: SalesforceSandboxOptions = {},
): Promise<SalesforceSandbox> {
  const host = options.host ?? '127.0.0.1'
  const ownsDataDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sf-sandbox-')))
  if (!ownsDataDir) await mkdir(dataDir, { recursive: true })

  const server = createServer()
  try {
    await listen(server, options.port ?? 0, host)
  } catch (error) {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true })
    throw error
  }
  const { port } = server.address() as AddressInfo
  const identity: SandboxIdentity = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    orgId: options.orgId ?? '00D000000000001AAA',
    clientId: options.clientId ?? 'sandbox-client-id',
    clientSecret: options.clientSecret ?? 'sandbox-client-secret',
    bucket: options.bucket ?? 'cg-sandbox-bucket',
    now: options.now ?? Date.now,
  }
  const { handler, ...parts } = assembleSandbox(options, identity, dataDir)
  server.on('request', handler)
  const pubsub = options.pubsub
    ? await startSandboxPubSub(host, identity.orgId, (token) => parts.sessions.isValid(token))
    : null

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      await pubsub?.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true })
    })()
    return closing
  }
  return sandboxHandle(identity, parts, close, pubsub?.handle ?? null)
}

/** The Pub/Sub API beside the REST sandbox, checking the tokens it issued. */
async function startSandboxPubSub(host: string, orgId: string, isValidToken: (token: string) => boolean) {
  const bus = new EventBus()
  const server = await startPubSubSandbox({ bus, orgId, isValidToken, host })
  const topicOf = (name: string) => {
    const topic = bus.topics.get(name)
    if (!topic) throw new Error(`sandbox pubsub: topic ${name} is not defined`)
    return topic
  }
  const hex = (ids: { replayId: bigint }[]) => ids.map((e) => e.replayId.toString(16).padStart(16, '0'))
  const handle: SandboxPubSub = {
    endpoint: server.endpoint,
    define: (topic, fields) => void bus.define(topic, fields),
    publish(name, events) {
      const topic = topicOf(name)
      return hex(
        bus.append(
          topic,
          events.map((fields) => ({ payload: bus.encode(topic, fields) })),
        ),
      )
    },
    publishChanges(name, changes) {
      const topic = topicOf(name)
      return hex(
        bus.append(
          topic,
          changes.map((change) => ({ payload: bus.encode(topic, bus.changeEvent(topic, change)) })),
        ),
      )
    },
    retainOnly: (count) => bus.retainOnly(count),
    subscribers: (topic) => bus.subscribers.get(topic) ?? 0,
  }
  return { handle, close: server.close }
}
