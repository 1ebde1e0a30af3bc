import type { SandboxEmail, SandboxPlatformEvent, WebhookDelivery } from './notifications.js'

/**
 * The Salesforce + S-Drive + S3 emulator's public shape, as tests, the demo
 * and `npm run sandbox` use it. Implemented in ./index.ts (startSalesforceSandbox).
 */

export interface SalesforceSandboxOptions {
  /** Also serve the Pub/Sub API over gRPC (plaintext, an ephemeral port of `host`). */
  pubsub?: boolean
  host?: string // default 127.0.0.1
  port?: number // default 0 (ephemeral)
  orgId?: string // default '00D000000000001AAA'
  clientId?: string // default 'sandbox-client-id'
  clientSecret?: string // default 'sandbox-client-secret'
  /** JWT bearer: PEM public key(s) per consumer key; assertions are RS256-verified against it. */
  jwtPublicKeys?: Record<string, string>
  /** Access tokens expire this long after issue (→ 401 INVALID_SESSION_ID). Default: never. */
  sessionTtlMs?: number
  /** Daily API request limit reported in Sforce-Limit-Info; beyond it 403 REQUEST_LIMIT_EXCEEDED. Default 15000. */
  dailyApiLimit?: number
  /** S3 bucket name used in keys/policies. Default 'cg-sandbox-bucket'. */
  bucket?: string
  /** Versioned bucket: S3 answers with x-amz-version-id. Default false. */
  versionedBucket?: boolean
  /** S-Drive max file size in bytes (POST /files → 422 beyond). Default 5 GiB. */
  maxFileSizeBytes?: number
  /** Where S3 object bytes are kept; default a fresh temp dir (removed on close). */
  dataDir?: string
  /** How POST /files answers: a bare uploadRequestInfo[] (default) or {"uploadRequestInfo":[…]}. */
  postResponseShape?: 'array' | 'wrapped'
  /** AWS region in credentials and signatures. Default 'us-east-1'. */
  awsRegion?: string
  /** Customer-made S-Drive file objects (no cg__ prefix, parent field Parent__c) known from the start. */
  fileObjects?: string[]
  /** Clock in ms since epoch, for sessions, policies, JWT and presigned URLs. Default Date.now. */
  now?: () => number
  /** The org's variant of each point the S-Drive docs leave open (reference UNCONFIRMED); see SDriveVariant. */
  variant?: SDriveVariant
  /** Fields the run-as user can read but not write ("Object.Field"): describe says createable/updateable false. */
  readOnlyFields?: string[]
  /** Field types describe reports ("Object.Field" → string, boolean, reference, double, …); default from the name. */
  fieldTypes?: Record<string, string>
}

/**
 * One answer to each UNCONFIRMED point of the S-Drive reference, so a probe
 * can be proven to tell them apart. Defaults: the package installed (version
 * 2.27), both id list encodings accepted, SSE AES256, results under
 * `resultObjects` with wipFileId/success/message, Is_Latest_Version__c present.
 */
export interface SDriveVariant {
  /** false: no cg objects, no Publisher row, and the Apex REST files resource answers 404. */
  installed?: boolean
  /** S-Drive's version as the Publisher row tells it, e.g. [2, 27]. */
  version?: [number, number]
  /** Which id list encoding GET/DELETE /files understand: comma, json, or either. */
  idListEncoding?: 'comma' | 'json' | 'either'
  /** false: uploadRequestInfo.s3EncryptionType is null and the policy has no encryption condition. */
  encryption?: boolean
  /** Field names of the PUT /files answer. */
  resultNames?: { list: string; id: string; success: string; message: string }
  /** false: file objects have no Is_Latest_Version__c (versions not available). */
  versions?: boolean
}

export type FaultTarget = 'token' | 'query' | 'sobject' | 'composite' | 'apex' | 's3'

export interface FaultSpec {
  /** HTTP status to answer with (e.g. 500, 503). */
  status: number
  /** Optional body; default a Salesforce-shaped error array (or S3 XML for s3). */
  body?: unknown
  /** Salesforce errorCode of the default body (e.g. INVALID_SESSION_ID); default from the status. */
  errorCode?: string
  /** Message of the default body. */
  message?: string
  /** Only fault requests whose method matches (e.g. 'PUT' to fail S-Drive step 3). */
  method?: string
  /** For s3: answer after reading this many bytes of the upload body, then destroy the socket. */
  dropAfterBytes?: number
}

/** The sandbox's Pub/Sub API (gRPC), when started with `pubsub: true`. */
export interface SandboxPubSub {
  /** host:port for salesforce.pubsub.endpoint (with tls: false). */
  endpoint: string
  /** A topic: /event/Name__e with these text fields, or /data/<Object>ChangeEvent with these record fields. */
  define(topic: string, fields: readonly string[]): void
  /** Publishes events (as Publish would); returns their replay ids as hex. */
  publish(topic: string, events: Record<string, unknown>[]): string[]
  /** Publishes change events (header and changedFields bitmap filled in). */
  publishChanges(
    topic: string,
    changes: {
      recordId: string
      changeType: 'CREATE' | 'UPDATE' | 'DELETE'
      fields: Record<string, unknown>
    }[],
  ): string[]
  /** Drops all but the newest `count` events of every topic (retention ran out). */
  retainOnly(count: number): void
  /** Subscribe streams open on a topic now. */
  subscribers(topic: string): number
}

export interface SalesforceSandbox {
  pubsub: SandboxPubSub | null
  /** Login and instance URL (same server): http://127.0.0.1:<port> */
  readonly url: string
  /** S3 bucket endpoint for browser-POST uploads: http://127.0.0.1:<port>/s3/<bucket>/ */
  readonly s3UploadUrl: string
  readonly orgId: string
  readonly clientId: string
  readonly clientSecret: string

  /** Seeds a record without counting an API call; returns its new 18-char id. */
  insert(sobject: string, fields: Record<string, unknown>): string
  /** A validation rule on API writes of one field, as an org has them: return a message to refuse a value. */
  addValidationRule(sobject: string, field: string, check: (value: unknown) => string | null): void
  /** Snapshot of all records of an sObject (deleted ones excluded unless asked). */
  records(sobject: string, options?: { includeDeleted?: boolean }): Record<string, unknown>[]
  /** The stored bytes of an S3 object, or undefined. */
  s3Object(key: string): Promise<Buffer | undefined>
  /** All S3 keys. */
  s3Keys(): string[]

  /** Fail the next `count` requests to `target` with `spec`. */
  failNext(target: FaultTarget, count: number, spec: FaultSpec): void
  /**
   * Fail every `every`-th request to `targets` (counted together, 'rest' = query, sobject,
   * composite and apex) with `spec`, until clearFaults(). One-shot faults from failNext go first.
   */
  failEvery(targets: FaultTarget | 'rest' | readonly FaultTarget[], every: number, spec: FaultSpec): void
  /**
   * Uploads to S3 of these file names are stored with one byte flipped, so their ETag does not
   * match what was sent (a checksum mismatch), until called again or clearFaults().
   */
  corruptUploads(fileNames: readonly string[]): void
  /** Disarm every fault armed with failNext, failEvery or corruptUploads. */
  clearFaults(): void
  /** Requests answered with an injected fault so far, per target. */
  injectedFaults(): Readonly<Partial<Record<FaultTarget, number>>>
  /** Invalidate every issued access token now (next call → 401 INVALID_SESSION_ID). */
  expireSessions(): void
  /** Set the API usage counter (e.g. to the limit, to provoke REQUEST_LIMIT_EXCEEDED). */
  setApiUsage(used: number): void

  /** Requests counted per kind since start (token, query, queryMore, sobject, composite, apex:GET|POST|PUT|DELETE, s3). */
  readonly calls: Readonly<Record<string, number>>
  /** Total API calls counted against the daily limit (everything except token and s3). */
  apiCallCount(): number

  /** The sandbox's webhook receiver: POSTs to it are recorded with their headers and raw body. */
  webhookUrl(name?: string): string
  webhookDeliveries(name?: string): WebhookDelivery[]
  /** The next deliveries are answered with these statuses, in order (then 200). */
  respondToWebhooks(statuses: number[]): void
  /** Emails the org was asked to send (emailSimple). */
  emails(): SandboxEmail[]
  /** Platform events published (sObject creates of …__e). */
  platformEvents(): SandboxPlatformEvent[]
  /** Resolves once this many webhook deliveries (of `name`, if given) were answered 2xx. */
  waitForWebhooks(count: number, name?: string): Promise<void>
  waitForEmails(count: number): Promise<void>
  waitForPlatformEvents(count: number): Promise<void>

  close(): Promise<void>
}

export type { SandboxEmail, SandboxPlatformEvent, WebhookDelivery } from './notifications.js'
