/**
 * The configuration file's JSON Schema (TypeBox). One schema validates the
 * file at start-up and types the rest of the code through Static<>.
 */
import { type Static, Type as T } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InboundPgpSchema, OutboundPgpSchema } from './pgp-schema.js'
import {
  HostKeyPinsSchema,
  HttpProxyConfigSchema,
  ProxyConfigSchema,
  SshAlgorithmsSchema,
} from './proxy-schema.js'
import { ResumeConfigSchema } from './resume-schema.js'
import { PollTriggerProperties } from './trigger-poll-schema.js'
import { FlowTriggerSchema, SalesforcePubSubSchema } from './trigger-pubsub-schema.js'

const Seconds = (description: string, def: number) => T.Number({ minimum: 0, default: def, description })
const Millis = (description: string, def: number) => T.Integer({ minimum: 1, default: def, description })

/** The operator console at /console: server-side sessions signed in with an API key. */
export const ConsoleConfigSchema = T.Object(
  {
    enabled: T.Boolean({ default: true, description: 'Serve the operator console at /console.' }),
    idleTimeoutMs: Millis(
      'A console session unused this long ends (the operator signs in again).',
      1_800_000,
    ),
    maxSessionMs: Millis('A console session ends this long after sign-in however active it is.', 43_200_000),
    signInAttemptsPerMinute: T.Integer({
      minimum: 1,
      default: 5,
      description: 'Sign-in attempts one client address may make per minute; more get 429.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'The operator console at /console (sign-in with an API key, server-side sessions).',
  },
)

export const ServerConfigSchema = T.Object(
  {
    host: T.String({ default: '0.0.0.0', description: 'Listen address.' }),
    port: T.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'Listen port (0 = any free port).',
    }),
    apiKeys: T.Array(T.String({ minLength: 16 }), {
      default: [],
      description: 'Bearer keys accepted by the API; use ${VAR} references, at least 16 characters each.',
    }),
    bodyLimitBytes: T.Integer({
      minimum: 1024,
      default: 1_048_576,
      description: 'Larger request bodies get 413.',
    }),
    trustProxy: T.Boolean({ default: false, description: 'Behind a reverse proxy.' }),
    shutdownGraceMs: T.Integer({
      minimum: 0,
      default: 25_000,
      description:
        'On SIGTERM, transfers in flight may finish for this long before they are abandoned; files not started stay pending for the next start.',
    }),
    recordSalesforce: T.Optional(
      T.String({
        minLength: 1,
        description:
          'Support recording: every Salesforce, S-Drive and S3 request and answer of normal runs is written, with every secret, token, policy, signature and session id redacted, as JSON lines to a file in this directory, for recordSalesforceMinutes after start. Off when unset.',
      }),
    ),
    recordSalesforceMinutes: T.Integer({
      minimum: 1,
      maximum: 1440,
      default: 60,
      description: 'How long after start recordSalesforce records; then it stops by itself.',
    }),
    console: ConsoleConfigSchema,
  },
  { additionalProperties: false, default: {} },
)

export const QueueConfigSchema = T.Object(
  {
    maxConcurrentTransfers: T.Integer({
      minimum: 1,
      maximum: 256,
      default: 4,
      description: 'Transfers at once in this instance (each endpoint is also capped by its maxConnections).',
    }),
    maxQueuedItems: T.Integer({
      minimum: 1,
      default: 10_000,
      description:
        'Files waiting or in progress (an export job being planned or delivered counts one more); beyond it a new run or export gets 429 with Retry-After.',
    }),
    maxActiveRuns: T.Integer({
      minimum: 1,
      default: 50,
      description:
        'Runs (and, separately, export jobs) this instance drives at once; more wait queued for the claim loop.',
    }),
  },
  { additionalProperties: false, default: {} },
)

/** store.retention: how long finished work is kept (the ledger is kept for ever). */
export const RetentionSettings = T.Object(
  {
    runDays: retentionDays(
      'Finished transfer runs (inbound, status; succeeded, partially failed, failed, cancelled) and their items are deleted this many days after they finished. The exactly-once ledger keeps every file: a pruned file is never taken again.',
    ),
    exportJobDays: retentionDays(
      'Finished export jobs (outbound runs) and their items are deleted this many days after they finished.',
    ),
    reviewDays: retentionDays(
      'Closed reviews (resubmitted or failed) are deleted this many days after they last changed; a rejection still awaiting its resubmission is never deleted.',
    ),
    idempotencyKeyDays: retentionDays(
      'A run or job that holds an idempotency key (API Idempotency-Key, one per schedule tick) is kept at least this many days after the key was used, and the key goes with it: a retry within this window gets the same run, a later one is a new request. 0 keeps such runs forever.',
    ),
    intervalMs: T.Integer({
      minimum: 1000,
      default: 3_600_000,
      description: 'How often the pruner runs (default hourly).',
    }),
    startDelayMs: T.Integer({
      minimum: 0,
      default: 60_000,
      description: 'The first pass runs this long after start, off the startup path.',
    }),
    batchSize: T.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 500,
      description:
        'Rows deleted per transaction; the pruner yields between batches so runs and API writes are not held up.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Pruning of finished runs, export jobs, reviews and idempotency keys, in small batches off the hot path. 0 days keeps that kind forever.',
  },
)

export const StoreConfigSchema = T.Object(
  {
    sqlitePath: T.String({
      minLength: 1,
      default: './data/bridge.sqlite',
      description:
        'The embedded store (WAL, synchronous=FULL, migrations applied at start; the writes of one event-loop turn share one commit, and none is acknowledged before its commit is on disk).',
    }),
    postgresUrl: T.Optional(
      T.String({
        pattern: '^postgres(ql)?://',
        description:
          'PostgreSQL connection URL, e.g. postgres://user:${PGPASSWORD}@host/db; when set, state lives there instead of in sqlitePath (same store contract; migrations under an advisory lock), and any number of replicas may share it.',
      }),
    ),
    postgresSchema: T.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$',
      default: 'public',
      description:
        'Schema holding the tables (created if missing); several deployments can share one database.',
    }),
    leaseMs: T.Integer({
      minimum: 1000,
      default: 30_000,
      description:
        'How long a run stays with a process that stopped renewing it (renewed every third of this); after that another replica takes it over.',
    }),
    retention: RetentionSettings,
  },
  { additionalProperties: false, default: {} },
)

function retentionDays(description: string) {
  return T.Integer({ minimum: 0, maximum: 36_500, default: 30, description })
}

export const ClientCredentialsAuthSchema = T.Object(
  {
    type: T.Literal('client_credentials', { description: 'OAuth client credentials flow.' }),
    clientId: T.String({ minLength: 1, description: 'Consumer key of a connected app with a run-as user.' }),
    clientSecret: T.String({ minLength: 1, description: 'Its consumer secret; use a ${VAR} reference.' }),
  },
  { additionalProperties: false },
)

export const JwtAuthSchema = T.Object(
  {
    type: T.Literal('jwt', { description: 'OAuth JWT bearer flow.' }),
    clientId: T.String({ minLength: 1, description: 'Consumer key of the connected app.' }),
    username: T.String({ minLength: 1, description: 'The pre-authorised user the calls run as.' }),
    privateKey: T.String({
      minLength: 1,
      description: 'PEM text of the RSA key whose certificate is on the connected app.',
    }),
    audience: T.Optional(T.String({ description: 'Defaults to loginUrl.' })),
  },
  { additionalProperties: false },
)

export const SalesforceConfigSchema = T.Object(
  {
    loginUrl: T.String({
      pattern: '^https?://',
      default: 'https://login.salesforce.com',
      description:
        "The org's My Domain URL for client credentials; https://test.salesforce.com for sandboxes.",
    }),
    apiVersion: T.String({ pattern: '^[0-9]+\\.[0-9]$', default: '63.0', description: 'REST API version.' }),
    auth: T.Union([ClientCredentialsAuthSchema, JwtAuthSchema], {
      description: 'How the service logs in: client credentials or JWT bearer.',
    }),
    timeoutMs: Millis('Deadline for one Salesforce call, retries included.', 60_000),
    maxRetries: T.Integer({
      minimum: 0,
      maximum: 10,
      default: 4,
      description: 'Retries of 5xx / network errors, with backoff.',
    }),
    proxy: T.Optional(HttpProxyConfigSchema),
    apiLimitProbeIntervalMs: Millis(
      'While the org is at its API limit, every Salesforce call waits and one probe call (GET …/limits) per interval checks whether the limit has lifted.',
      60_000,
    ),
    pubsub: T.Optional(SalesforcePubSubSchema),
  },
  { additionalProperties: false },
)

export const SDriveConfigSchema = T.Object(
  {
    filesPath: T.String({
      default: '/cg/SDrive/files',
      description: 'Apex REST path of the S-Drive files resource.',
    }),
    s3UploadUrl: T.String({
      pattern: '^https?://',
      description:
        'Where the S3 browser-POST form goes (the bucket endpoint, e.g. https://<bucket>.s3.<region>.amazonaws.com/); S-Drive does not return it.',
    }),
    idListEncoding: T.Union([T.Literal('comma'), T.Literal('json')], {
      default: 'comma',
      description: 'How id lists are packed into one query parameter (UNCONFIRMED in the S-Drive docs).',
    }),
    linkLifetimeSeconds: T.Integer({ minimum: 1, default: 300, description: 'Lifetime of download links.' }),
    uploadTimeoutMs: Millis('An S3 upload making no progress this long is aborted.', 120_000),
    completionWaitMs: T.Integer({
      minimum: 0,
      // Past 2^31 ms a Node timer fires at once; no run waits ten minutes for a batch.
      maximum: 600_000,
      // Longer than a batch of 100 small files takes at c=4 (0.8 s in bench G3), so consecutive
      // batches pair up; short beside a run of many batches, whose files are safe in S3 meanwhile.
      default: 2000,
      description:
        'How long a batch of files whose S3 uploads are done waits for other batches of the same run, so that one PUT /files completes up to 200 files of several records (fewer Salesforce API calls). A batch never waits when no other batch of the run is still uploading. 0: every batch completes on its own.',
    }),
    proxy: T.Optional(HttpProxyConfigSchema),
    replaceMode: T.Union([T.Literal('delete'), T.Literal('softDelete')], {
      default: 'softDelete',
      description:
        'How the existing file is removed under the replace policy (existing: replace, review resubmission: replace, archive.removeFromSDrive): delete the file record, or softDelete: set Is_Deleted__c (the recycle bin).',
    }),
  },
  { additionalProperties: false },
)

export const TlsConfigSchema = T.Object(
  {
    ca: T.Optional(T.String({ description: 'FTPS: PEM of a private CA to trust.' })),
    rejectUnauthorized: T.Boolean({
      default: true,
      description: 'Certificates are always verified unless this is turned off.',
    }),
    minVersion: T.Optional(
      T.Union([T.Literal('TLSv1.2'), T.Literal('TLSv1.3')], { description: 'Lowest TLS version accepted.' }),
    ),
    maxVersion: T.Optional(
      T.Union([T.Literal('TLSv1.2'), T.Literal('TLSv1.3')], {
        description: 'Cap TLS at TLSv1.2 for servers that cut TLS 1.3 data connections short.',
      }),
    ),
    servername: T.Optional(T.String({ description: 'SNI / certificate name if it differs from host.' })),
  },
  { additionalProperties: false, default: {}, description: 'FTPS: how the server certificate is checked.' },
)

export const EndpointConfigSchema = T.Object(
  {
    protocol: T.Union([T.Literal('sftp'), T.Literal('ftp'), T.Literal('ftps'), T.Literal('ftps-implicit')], {
      description: 'ftps is explicit (AUTH TLS); ftps-implicit is TLS from the first byte.',
    }),
    host: T.String({ minLength: 1, description: 'Host name or address of the server.' }),
    port: T.Optional(T.Integer({ minimum: 1, maximum: 65535, description: 'Defaults to 22 / 21 / 990.' })),
    username: T.String({ minLength: 1, description: 'Login name.' }),
    password: T.Optional(T.String({ description: 'Use a ${VAR} reference.' })),
    privateKey: T.Optional(
      T.String({ description: 'SFTP key authentication: PEM/OpenSSH private key text.' }),
    ),
    passphrase: T.Optional(T.String({ description: 'Of the private key.' })),
    hostKeySha256: T.Optional(HostKeyPinsSchema),
    algorithms: T.Optional(SshAlgorithmsSchema),
    proxy: T.Optional(ProxyConfigSchema),
    insecureSkipHostKeyCheck: T.Boolean({
      default: false,
      description: 'Explicit opt-out of host key pinning (logged as a warning).',
    }),
    tls: TlsConfigSchema,
    maxConnections: T.Integer({
      minimum: 1,
      maximum: 64,
      default: 2,
      description:
        "Connection pool cap for this server (FTP allows one transfer per connection); with replicas it counts every replica's connections together.",
    }),
    connectTimeoutMs: Millis('Deadline for connect + login.', 15_000),
    operationTimeoutMs: Millis('Deadline for one command, and for a transfer without progress.', 60_000),
    keepaliveIntervalMs: Millis('SSH keepalive / FTP NOOP interval.', 10_000),
    idleCloseMs: Millis(
      "Pooled connections unused this long are closed (at most 1 s with replicas on PostgreSQL, where an idle connection holds one of the endpoint's shared slots).",
      30_000,
    ),
    fileNameEncoding: T.Union([T.Literal('utf8'), T.Literal('latin1')], {
      default: 'utf8',
      description: 'latin1 for old FTP servers that do not speak UTF-8.',
    }),
    supportsRename: T.Boolean({
      default: true,
      description: 'Whether the server can rename (used by atomic writes on the outbound side).',
    }),
    resume: ResumeConfigSchema,
  },
  { additionalProperties: false },
)

/** Field API name → value template; `when` says when the fields are set, `placeholders` what a value may use. */
const fieldMap = (when: string, placeholders: string) =>
  T.Record(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), T.String(), {
    description: `${when}. Field API name → value template (${placeholders}).`,
  })
const WRITE_BACK_PLACEHOLDERS = '{now}, {job.id}, {error}, {file.count}, …'
const REVIEW_PLACEHOLDERS =
  '{reasonCode}, {reason}, {correlationId}, {file.name}, {file.id}, {record.id}, {now}'

/** The review loop of an inbound flow: rejected files go back to the partner, corrections come in. */
export const ReviewConfigSchema = T.Object(
  {
    dropZone: T.Object(
      {
        endpoint: T.Optional(T.String({ minLength: 1, description: "Default: the flow's source endpoint." })),
        directory: T.String({
          minLength: 1,
          pattern: '^/',
          description:
            'Template: where rejected files go, e.g. /rejected/{record.id} ({record.id} {correlationId} {reasonCode} {file.name} {flow} {now}). Must not be a folder the flow reads (checked at start-up).',
        }),
        fileName: T.String({
          minLength: 1,
          default: '{file.stem}__{correlationId}{file.ext}',
          description:
            'Template of the returned file name; keep {correlationId} in it so the resubmission is recognised by name.',
        }),
      },
      { additionalProperties: false, description: 'Where rejected files are returned to the partner.' },
    ),
    object: T.Optional(
      T.String({
        pattern: '^[A-Za-z][A-Za-z0-9_]*$',
        description:
          "The reviewed records' sObject (for the review fields); default: the match rules' object (when they all name one).",
      }),
    ),
    onRejected: T.Optional(
      fieldMap(
        'Set on the record once the rejected file is back in the drop zone, e.g. {Review_Status__c: Rejected, Review_Reason__c: "{reasonCode}: {reason}"}',
        REVIEW_PLACEHOLDERS,
      ),
    ),
    onResubmitted: T.Optional(
      fieldMap('Set on the record once S-Drive confirmed the corrected file', REVIEW_PLACEHOLDERS),
    ),
    resubmission: T.Union([T.Literal('version'), T.Literal('replace')], {
      default: 'version',
      description:
        'version: the corrected file is added under the original name and the original is marked not latest (Is_Latest_Version__c = false); replace: the original is removed per sdrive.replaceMode.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'The review loop: rejected files go back to the partner, corrections come back as new versions.',
  },
)

/** A field value's declared type: what its text must be, and what is written (status files, file fields). */
const fieldType = (options: { default?: 'string'; description: string }) =>
  T.Union(
    [
      T.Literal('string'),
      T.Literal('number'),
      T.Literal('integer'),
      T.Literal('boolean'),
      T.Literal('date'),
      T.Literal('datetime'),
      T.Literal('picklist'),
    ],
    options,
  )
const FieldTypeFields = {
  type: fieldType({ default: 'string', description: 'The type its text must have.' }),
  values: T.Optional(T.Array(T.String(), { minItems: 1, description: 'Allowed values (picklist).' })),
  maxLength: T.Optional(T.Integer({ minimum: 1, description: 'string: the longest value accepted.' })),
}

export const FILE_FIELD_PLACEHOLDERS =
  '{flow}, {file.name}, {file.stem}, {file.ext}, {record.id}, {date}, and the named groups or {segments} of the match rules'

export const FileFieldSchema = T.Union(
  [
    T.String({ description: `A value template (${FILE_FIELD_PLACEHOLDERS}), written as text.` }),
    T.Object(
      {
        value: T.String({ description: `Value template (${FILE_FIELD_PLACEHOLDERS}).` }),
        // No default here: inside a union a default is never applied (the code reads a missing type as string).
        type: T.Optional(fieldType({ description: 'The type its text must have; default string.' })),
        values: FieldTypeFields.values,
        maxLength: FieldTypeFields.maxLength,
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'A field of the S-Drive file record, set once the file is uploaded; a value that is not its type fails the file with FIELD_VALUE_INVALID.',
  },
)

const TargetFields = {
  fileObject: T.String({
    pattern: '^[A-Za-z][A-Za-z0-9_]*$',
    description:
      'S-Drive file object, e.g. cg__AccountFile__c; custom file objects have no cg__ prefix (Invoice_File__c).',
  }),
  parentField: T.String({
    pattern: '^[A-Za-z][A-Za-z0-9_]*$',
    description: 'Its parent lookup field, e.g. cg__Account__c',
  }),
  folder: T.Optional(
    T.String({
      description:
        'S-Drive folder path the file goes into (template: {flow}, {date}, {record.id}, {file.dir}); looked up once, created if missing.',
    }),
  ),
  description: T.Optional(
    T.String({
      description:
        'Description template, e.g. "From {flow}: {file.name}" ({flow}, {file.name}, {file.path}, {run.id}, {record.id}, {date}).',
    }),
  ),
  fields: T.Optional(
    T.Record(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), FileFieldSchema, {
      description:
        'Fields of the S-Drive file record from the file name, its folder (named groups, {segments}), the index of its batch ({index.Column}) and the run: field API name → value template or {value, type, values, maxLength}. Set in one batched update per run (200 records per call); checked against the org like the other names.',
    }),
  ),
}

export const TargetConfigSchema = T.Object(TargetFields, {
  additionalProperties: false,
  description: 'Where matched files go in S-Drive.',
})
export const PartialTargetConfigSchema = T.Partial(TargetConfigSchema, {
  additionalProperties: false,
  description: "Overrides the flow's target for the files this rule recognises.",
})

const ObjectName = T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' })
const LookupObject = T.String({
  pattern: '^[A-Za-z][A-Za-z0-9_]*$',
  description: 'The sObject whose records the rule looks up.',
})

export const FileNameRuleSchema = T.Object(
  {
    type: T.Literal('filename', { description: 'A regex on the file name.' }),
    pattern: T.String({
      minLength: 1,
      description:
        'Regex with named groups, applied to the file name; each named group is a field of object (or mapped by fields).',
    }),
    object: LookupObject,
    fields: T.Optional(
      T.Record(T.String(), ObjectName, { description: 'Group name → lookup field; default: same name.' }),
    ),
    lookup: T.Optional(
      T.Array(T.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'The named groups that identify the record; the others only feed target.fields. Default: every named group.',
      }),
    ),
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const RecordIdRuleSchema = T.Object(
  {
    type: T.Literal('recordId', { description: 'A record id in the file name.' }),
    pattern: T.Optional(
      T.String({
        description:
          'Regex with a named group "id"; default finds a 15/18-char id (18-character ids must have a valid checksum).',
      }),
    ),
    object: LookupObject,
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const FolderRuleSchema = T.Object(
  {
    type: T.Literal('folder', { description: 'The folder below the source directory.' }),
    template: T.String({
      minLength: 1,
      description:
        'Folder path relative to the source directory, with {Field} segments, e.g. "accounts/{AccountNumber}".',
    }),
    object: LookupObject,
    lookup: T.Optional(
      T.Array(T.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'The {segments} that identify the record; the others only feed target.fields. Default: every segment.',
      }),
    ),
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const IndexRuleSchema = T.Object(
  {
    type: T.Literal('index', {
      description: "The file's row in its batch folder's index file (the flow's index setting).",
    }),
    object: LookupObject,
    key: T.Record(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), T.String({ minLength: 1 }), {
      minProperties: 1,
      description:
        'Lookup field → value template from index columns, e.g. {ProductCode: "{index.SKU}"}; {Id: "{index.RecordId}"} takes a record id. A file without an index row, without one of the columns or with an empty key cell is left to the next rule (so one index can name products, campaigns and quotes in columns of their own); an empty key cell no later rule takes fails with NO_MATCHING_RECORD.',
    }),
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const MatchRuleSchema = T.Union([
  FileNameRuleSchema,
  RecordIdRuleSchema,
  FolderRuleSchema,
  IndexRuleSchema,
])

/** Index (sidecar) files of inbound batches: one per batch folder, naming per file its record key and field values. */
export const IndexConfigSchema = T.Object(
  {
    names: T.Array(T.String({ minLength: 1, pattern: '^[^/]+$' }), {
      minItems: 1,
      default: ['index.csv', 'index.json', 'index.xml'],
      description:
        'File names an index may have in a batch folder (the first found is used). .json and .xml are read as such, any other name as CSV with a header row. The index and its <name>.result.csv are never uploaded as documents.',
    }),
    required: T.Boolean({
      default: false,
      description:
        "true: a batch folder's files are taken only once its index is there (and ready); files not in it fail with NOT_IN_INDEX. false: an index is used when present.",
    }),
    fileColumn: T.String({
      minLength: 1,
      default: 'File',
      description:
        'The column (CSV header, JSON key, XML child element or attribute; any case) holding the file name.',
    }),
    maxBytes: T.Integer({
      minimum: 1,
      default: 16_777_216,
      description: 'Larger index files are refused (INDEX_INVALID) and their batch left in place.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Index files: columns are {index.Column} placeholders in index match rules and target.fields. The batch gets a summary (batches[] of its run) and a <index>.result.csv.',
  },
)

export const ReadinessSchema = T.Union(
  [
    T.Object(
      {
        mode: T.Literal('stable', {
          description: 'Take a file once it is old enough and unchanged across a second look.',
        }),
        stableSeconds: Seconds('Size and mtime must not change across this re-check.', 5),
        minAgeSeconds: Seconds('The file must be at least this old (by its mtime).', 10),
      },
      { additionalProperties: false },
    ),
    T.Object(
      {
        mode: T.Literal('doneMarker', { description: 'Take a file once its done-marker exists.' }),
        suffix: T.String({
          minLength: 1,
          default: '.done',
          description: 'x.pdf is taken only once x.pdf<suffix> exists.',
        }),
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'When a file is complete enough to take; default {mode: stable, stableSeconds: 5, minAgeSeconds: 10}.',
  },
)

export const RetryConfigSchema = T.Object(
  {
    maxAttempts: T.Integer({
      minimum: 1,
      maximum: 50,
      default: 5,
      description: 'Real tries of one file (see "What an attempt is" in docs/how-it-works.md).',
    }),
    baseDelayMs: T.Integer({
      minimum: 0,
      default: 1000,
      description: 'First backoff delay; exponential with full jitter.',
    }),
    maxDelayMs: T.Integer({ minimum: 0, default: 60_000, description: 'Longest backoff delay.' }),
  },
  { additionalProperties: false, default: {}, description: 'Per-file retries of transient faults.' },
)

const FlowName = T.String({
  pattern: '^[a-z0-9][a-z0-9-_]*$',
  maxLength: 64,
  description: 'Used in the API.',
})

/** The remote folder an inbound or status flow reads; only the default file patterns differ. */
const FolderSourceSchema = (include: string[]) =>
  T.Object(
    {
      endpoint: T.String({ minLength: 1, description: 'Name of an entry of endpoints.' }),
      directory: T.String({ minLength: 1, pattern: '^/', description: 'Where partners drop files.' }),
      include: T.Array(T.String({ minLength: 1 }), {
        default: include,
        description: 'Globs on the path relative to directory (or the bare name).',
      }),
      exclude: T.Array(T.String({ minLength: 1 }), { default: [], description: 'Globs, as include.' }),
      recursive: T.Boolean({
        default: false,
        description: 'Descend into sub-folders (needed for folder matching).',
      }),
    },
    { additionalProperties: false, description: 'The remote folder the flow reads.' },
  )

/** What becomes of a read file (inbound and status flows). */
const AfterSchema = T.Object(
  {
    success: T.Union([T.Literal('move'), T.Literal('delete'), T.Literal('keep')], {
      default: 'move',
      description: 'move (to processedDirectory, required then), delete or keep.',
    }),
    processedDirectory: T.Optional(
      T.String({ pattern: '^/', description: 'Where processed files go (sub-folders kept).' }),
    ),
    errorDirectory: T.String({
      pattern: '^/',
      description: 'Where permanently failed files go, with their .error.json.',
    }),
  },
  { additionalProperties: false, description: 'What becomes of a file once it was processed.' },
)

/** When an inbound or status flow runs by itself. */
const ScheduleSchema = T.Object(
  {
    cron: T.String({ minLength: 1, description: 'e.g. "*/15 * * * *".' }),
    timezone: T.String({ default: 'UTC', description: 'e.g. Europe/Berlin.' }),
  },
  {
    additionalProperties: false,
    description: 'Built-in schedule; a tick while the previous run is active is skipped.',
  },
)

export const InboundFlowSchema = T.Object(
  {
    name: FlowName,
    kind: T.Literal('inbound', { description: 'Files from a remote server into S-Drive.' }),
    description: T.Optional(T.String({ description: 'For people; shown by GET /v1/flows.' })),
    source: FolderSourceSchema(['**']),
    readiness: T.Optional(ReadinessSchema),
    match: T.Array(MatchRuleSchema, {
      minItems: 1,
      description: 'Rules, tried in order; each may override target for the files it recognises.',
    }),
    target: TargetConfigSchema,
    existing: T.Union(
      [T.Literal('skip'), T.Literal('replace'), T.Literal('duplicate'), T.Literal('version')],
      {
        default: 'skip',
        description:
          'What to do when the target record already has a file of the same name: skip the new one, replace the old one (removed per sdrive.replaceMode), upload a duplicate, or version: add the new one under the same name and mark the current one not latest (Is_Latest_Version__c = false); a file with the bytes of the current version (known when the bridge uploaded it) makes no version and is skipped as UNCHANGED.',
      },
    ),
    batch: T.Optional(
      T.Object(
        {
          atomic: T.Boolean({
            default: false,
            description:
              'true: the files of one folder (within a run) are one batch. None of them is tidied up (moved to processedDirectory, older versions superseded, replaced files removed) until all are uploaded; if one fails permanently (after its retries), the others uploaded in this run are removed from S-Drive again (per sdrive.replaceMode), those not uploaded yet are left out (BATCH_ABORTED), and the whole folder goes to errorDirectory with a _batch-<run>.error.json report. false: each file on its own.',
          }),
        },
        { additionalProperties: false, description: 'Whether a folder of files goes as one unit.' },
      ),
    ),
    index: T.Optional(IndexConfigSchema),
    after: AfterSchema,
    schedule: T.Optional(ScheduleSchema),
    retry: RetryConfigSchema,
    maxFilesPerRun: T.Integer({
      minimum: 1,
      default: 10_000,
      description: 'The rest waits for the next run (a batch folder with an index is never split).',
    }),
    review: T.Optional(ReviewConfigSchema),
    pgp: T.Optional(InboundPgpSchema),
  },
  { additionalProperties: false },
)

export const OutboundFlowSchema = T.Object(
  {
    name: FlowName,
    kind: T.Literal('outbound', {
      description: "S-Drive files of records to a recipient's server (export jobs).",
    }),
    description: T.Optional(T.String({ description: 'For people; shown by GET /v1/flows.' })),
    source: T.Object(
      {
        object: T.String({
          pattern: '^[A-Za-z][A-Za-z0-9_]*$',
          description: 'The record type exports name (Opportunity, Case, …).',
        }),
        fileObject: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$', description: 'Its S-Drive file object.' }),
        parentField: T.String({
          pattern: '^[A-Za-z][A-Za-z0-9_]*$',
          description: "The file object's parent lookup field.",
        }),
        folder: T.Optional(
          T.String({ description: 'Only files in this S-Drive folder (by name, at the record root).' }),
        ),
        include: T.Array(T.String({ minLength: 1 }), {
          default: ['*'],
          description: 'Globs on the S-Drive file name.',
        }),
        exclude: T.Array(T.String({ minLength: 1 }), { default: [], description: 'Globs, as include.' }),
        contentTypes: T.Optional(
          T.Array(T.String({ minLength: 1 }), {
            description: 'Only these MIME types (application/pdf; "image/*" allowed).',
          }),
        ),
        maxFilesPerJob: T.Integer({
          minimum: 1,
          default: 1000,
          description: 'Files one export job sends at most.',
        }),
      },
      { additionalProperties: false, description: 'Which S-Drive files of the exported records go.' },
    ),
    destination: T.Object(
      {
        endpoint: T.String({ minLength: 1, description: "The recipient's server (an entry of endpoints)." }),
        directory: T.String({
          minLength: 1,
          pattern: '^/',
          description: 'Template, e.g. /outbox/{Account.AccountNumber}',
        }),
        fileName: T.String({
          minLength: 1,
          default: '{file.name}',
          description: 'Template, e.g. {Name}_{now:yyyyMMdd}_{file.name}',
        }),
        atomic: T.Boolean({
          default: true,
          description:
            'Upload under <name>.<job>-<random><tempSuffix>, then rename, so the recipient never sees a partial file under its final name (an endpoint with supportsRename: false is written directly).',
        }),
        tempSuffix: T.String({ minLength: 1, default: '.part', description: 'See atomic.' }),
        existing: T.Union(
          [T.Literal('overwrite'), T.Literal('rename'), T.Literal('skip'), T.Literal('fail')],
          {
            default: 'rename',
            description: 'When the name is taken on the server; rename adds " (job-id)".',
          },
        ),
        replacement: T.String({
          maxLength: 1,
          default: '_',
          description: 'Replaces characters unsafe in remote names (/, \\, control characters; .. segments).',
        }),
      },
      { additionalProperties: false, description: 'Where and under which name the files arrive.' },
    ),
    manifest: T.Optional(
      T.Object(
        {
          format: T.Union([T.Literal('csv'), T.Literal('json')], {
            description: 'Also the {format} placeholder.',
          }),
          fileName: T.String({
            minLength: 1,
            default: 'manifest-{job.id}.{format}',
            description: 'Template of the manifest name.',
          }),
          recordFields: T.Array(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_.]*$' }), {
            default: [],
            description: 'Record fields added as columns, e.g. [Name, Account.AccountNumber].',
          }),
        },
        {
          additionalProperties: false,
          description:
            'One row per delivered file (record id, S-Drive file id, remote path, size, SHA-256, time, correlation id, the record fields); CSV cells that a spreadsheet would run as formulas are quoted.',
        },
      ),
    ),
    doneMarker: T.Optional(
      T.Object(
        { fileName: T.String({ minLength: 1, default: '_DONE', description: 'Name of the marker file.' }) },
        { additionalProperties: false, description: 'Written last, only when every file arrived.' },
      ),
    ),
    window: T.Optional(
      T.Object(
        {
          cron: T.String({ minLength: 1, description: "When the window opens, e.g. '0 18 * * *'." }),
          timezone: T.String({ default: 'UTC', description: 'e.g. Europe/Berlin.' }),
          batchFolder: T.String({
            minLength: 1,
            default: 'batch-{window}',
            description: 'Sub-folder per window.',
          }),
        },
        {
          additionalProperties: false,
          description:
            'Delivery window: accepted exports wait (waiting_for_window) and go out together into one batch folder with one manifest and one marker.',
        },
      ),
    ),
    archive: T.Object(
      {
        removeFromSDrive: T.Boolean({
          default: false,
          description:
            'Opt-in: after a delivery whose remote size matched, the S-Drive file is removed (per sdrive.replaceMode); never when delivery or verification failed.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'What happens in S-Drive after a delivery.' },
    ),
    writeBack: T.Optional(
      T.Object(
        {
          onSuccess: T.Optional(
            fieldMap(
              'Set on the records when the job succeeds, e.g. {Export_Status__c: Delivered, Exported_At__c: "{now}"} (one sObject Collections call per job)',
              WRITE_BACK_PLACEHOLDERS,
            ),
          ),
          onFailure: T.Optional(
            fieldMap(
              'Set on the records when the job fails, e.g. {Export_Status__c: Failed, Export_Error__c: "{error}"}',
              WRITE_BACK_PLACEHOLDERS,
            ),
          ),
          onNothingToExport: T.Optional(
            fieldMap(
              'Set when the job found no S-Drive file to send (nothing_to_export), e.g. {Export_Status__c: "No documents"}; without it such a job writes nothing back',
              WRITE_BACK_PLACEHOLDERS,
            ),
          ),
        },
        { additionalProperties: false, description: 'Fields set on the records when the job ends.' },
      ),
    ),
    outboundMessages: T.Optional(
      T.Object(
        {
          organizationIds: T.Array(T.String({ pattern: '^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$' }), {
            minItems: 1,
            description: 'Org ids (00D…, Setup → Company Information) whose notifications are accepted.',
          }),
          secret: T.String({
            minLength: 16,
            description: 'Shared secret carried in the endpoint URL (?secret=…).',
          }),
        },
        {
          additionalProperties: false,
          description:
            'Enables the Outbound Message endpoint for this flow; organizationIds is the allowlist.',
        },
      ),
    ),
    retry: RetryConfigSchema,
    trigger: T.Optional(
      T.Object(
        { ...FlowTriggerSchema.properties, ...PollTriggerProperties },
        {
          additionalProperties: false,
          description:
            'What starts export jobs besides the API and callouts, with no inbound call from Salesforce: a Pub/Sub subscription or a polling query.',
        },
      ),
    ),
    pgp: T.Optional(OutboundPgpSchema),
  },
  { additionalProperties: false },
)

/** One field a status file may set, and the type its text must have. */
export const StatusFieldSchema = T.Object(
  {
    column: T.Optional(
      T.String({
        minLength: 1,
        description: 'Column (CSV), key (JSON) or element (XML); default: the field name.',
      }),
    ),
    ...FieldTypeFields,
  },
  { additionalProperties: false },
)

export const StatusFormatSchema = T.Object(
  {
    type: T.Union([T.Literal('csv'), T.Literal('json'), T.Literal('xml')], {
      description: 'csv (header row), json or xml.',
    }),
    encoding: T.Union([T.Literal('utf8'), T.Literal('utf16le'), T.Literal('latin1')], {
      default: 'utf8',
      description: 'Bytes that are not this encoding fail the file with STATUS_FILE_ENCODING.',
    }),
    delimiter: T.String({ minLength: 1, maxLength: 1, default: ',', description: 'CSV only.' }),
    recordsPath: T.String({
      default: '',
      description:
        'JSON: dotted path to the array of rows ("" = the document itself, or its single array property); XML: dotted path of the repeated row element, e.g. "statuses.status".',
    }),
    maxBytes: T.Integer({ minimum: 1, default: 52_428_800, description: 'Larger status files are refused.' }),
  },
  { additionalProperties: false, description: 'How a status file is read.' },
)

export const StatusFlowSchema = T.Object(
  {
    name: FlowName,
    kind: T.Literal('status', {
      description: 'Status files from a legacy system update the records they name.',
    }),
    description: T.Optional(T.String({ description: 'For people; shown by GET /v1/flows.' })),
    source: FolderSourceSchema(['*.csv', '*.json', '*.xml']),
    readiness: T.Optional(ReadinessSchema),
    format: StatusFormatSchema,
    object: T.String({
      pattern: '^[A-Za-z][A-Za-z0-9_]*$',
      description: 'The sObject whose records the status files update.',
    }),
    key: T.Object(
      {
        column: T.String({ minLength: 1, description: 'The column naming the record.' }),
        by: T.Union([T.Literal('id'), T.Literal('externalId'), T.Literal('correlationId')], {
          description: "correlationId: an export's {correlationId} or a rejection's rv-….",
        }),
        field: T.Optional(
          T.String({
            pattern: '^[A-Za-z][A-Za-z0-9_]*$',
            description: 'by externalId: the field looked up.',
          }),
        ),
      },
      { additionalProperties: false, description: 'How a row names its record.' },
    ),
    fields: T.Record(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), StatusFieldSchema, {
      additionalProperties: false,
      minProperties: 1,
      description: 'The only fields a status file may set; any other column with a value rejects its row.',
    }),
    ignoreColumns: T.Array(T.String({ minLength: 1 }), {
      default: [],
      description: 'Columns that are read past (neither a field nor an error).',
    }),
    document: T.Optional(
      T.Object(
        {
          column: T.String({ minLength: 1, description: 'Names a file beside the status file to attach.' }),
          fileObject: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$', description: 'S-Drive file object.' }),
          parentField: T.String({
            pattern: '^[A-Za-z][A-Za-z0-9_]*$',
            description: 'Its parent lookup field.',
          }),
          folder: T.Optional(T.String({ description: 'S-Drive folder name (template).' })),
          description: T.Optional(T.String({ description: 'Description template.' })),
        },
        {
          additionalProperties: false,
          description: "A document named in a row is uploaded to S-Drive on that row's record.",
        },
      ),
    ),
    after: AfterSchema,
    schedule: T.Optional(ScheduleSchema),
    retry: RetryConfigSchema,
    maxFilesPerRun: T.Integer({ minimum: 1, default: 1000, description: 'The rest waits for the next run.' }),
  },
  { additionalProperties: false },
)

const RateLimitSchema = T.Object(
  {
    perMinute: T.Integer({
      minimum: 1,
      default: 6,
      description:
        'Messages this channel sends per minute at most; more wait for a free slot (never dropped).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'Per-channel rate limit (sliding minute).' },
)

const ChannelCommon = {
  rateLimit: RateLimitSchema,
  timeoutMs: Millis('Deadline of one delivery request.', 10_000),
}

export const WebhookChannelSchema = T.Object(
  {
    type: T.Literal('webhook', {
      description: 'POST JSON (Slack/Teams-compatible `text`) signed with HMAC-SHA256 in X-Bridge-Signature.',
    }),
    url: T.String({ pattern: '^https?://', description: 'Where messages are POSTed.' }),
    secret: T.String({
      minLength: 16,
      description: 'HMAC-SHA256 key of X-Bridge-Signature; use a ${VAR} reference, at least 16 characters.',
    }),
    ...ChannelCommon,
  },
  { additionalProperties: false },
)

export const SalesforceEmailChannelSchema = T.Object(
  {
    type: T.Literal('salesforceEmail', {
      description:
        "Email sent by the org through the standard emailSimple invocable action (the org's limits).",
    }),
    to: T.Array(T.String({ pattern: '^[^\\s@,]+@[^\\s@,]+$' }), { minItems: 1, description: 'Recipients.' }),
    ...ChannelCommon,
  },
  { additionalProperties: false },
)

const PlatformEventFieldsSchema = T.Object(
  {
    event: T.String({ default: 'Event__c' }),
    flow: T.String({ default: 'Flow__c' }),
    runId: T.String({ default: 'Run_Id__c' }),
    summary: T.String({ default: 'Summary__c' }),
    failedCount: T.String({ default: 'Failed_Count__c' }),
  },
  {
    additionalProperties: false,
    default: {},
    description: "The platform event's field API names for each part of the message.",
  },
)

export const PlatformEventChannelSchema = T.Object(
  {
    type: T.Literal('platformEvent', {
      description: 'A platform event published in the org, for admins who build Flows.',
    }),
    event: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*__e$', description: 'e.g. Bridge_Alert__e.' }),
    fields: PlatformEventFieldsSchema,
    ...ChannelCommon,
  },
  { additionalProperties: false },
)

export const NotificationChannelSchema = T.Union([
  WebhookChannelSchema,
  SalesforceEmailChannelSchema,
  PlatformEventChannelSchema,
])

export const NotificationRuleSchema = T.Object(
  {
    on: T.Array(T.String(), {
      minItems: 1,
      description:
        'Events: run.failed, run.partially_failed, file.failed, job.failed, rejection.created, salesforce.api_limit, endpoint.unreachable, flow.no_success.',
    }),
    flows: T.Array(T.String({ minLength: 1 }), {
      default: ['*'],
      description: "Flow names the rule covers; '*' for every flow.",
    }),
    channel: T.String({ minLength: 1, description: 'A channel named under notifications.channels.' }),
    after: T.Optional(
      T.Union([T.Integer({ minimum: 1 }), T.String()], {
        description:
          'flow.no_success: a duration without a succeeded run ("24h", "30m", "7d"); endpoint.unreachable: consecutive failed connects (default 3).',
      }),
    ),
  },
  { additionalProperties: false },
)

export const NotificationsConfigSchema = T.Object(
  {
    channels: T.Record(T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9-_]*$' }), NotificationChannelSchema, {
      additionalProperties: false,
      default: {},
      description: 'Where messages go, by name; rules and rejections name them.',
    }),
    rules: T.Array(NotificationRuleSchema, { default: [], description: 'Which events go to which channel.' }),
    pollIntervalMs: Millis(
      'How often the delivery worker looks for due messages (also woken at once by new ones).',
      1000,
    ),
    maxAttempts: T.Integer({
      minimum: 1,
      default: 10,
      description: 'Tries of one message on transient faults (5xx, 408, 429, network) before it is failed.',
    }),
    retryBaseMs: Millis('First retry delay; doubles per try (full jitter).', 1000),
    retryMaxMs: Millis('Longest retry delay.', 300_000),
    deliver: T.Boolean({
      default: true,
      description: 'Run the delivery worker in this process (false: only write the outbox).',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Notifications: a durable outbox delivered to webhooks, emails sent by the org, platform events.',
  },
)

export const FlowSchema = T.Union([InboundFlowSchema, OutboundFlowSchema, StatusFlowSchema])

export const ConfigSchema = T.Object(
  {
    server: ServerConfigSchema,
    queue: QueueConfigSchema,
    store: StoreConfigSchema,
    salesforce: SalesforceConfigSchema,
    sdrive: SDriveConfigSchema,
    // additionalProperties: false, or a name outside the pattern would skip validation entirely.
    endpoints: T.Record(T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9-_]*$' }), EndpointConfigSchema, {
      additionalProperties: false,
      description: 'The FTP, FTPS and SFTP servers, by name; flows name them.',
    }),
    flows: T.Array(FlowSchema, { default: [] }),
    notifications: NotificationsConfigSchema,
  },
  { additionalProperties: false },
)

export type BridgeConfig = Static<typeof ConfigSchema>
export type ServerConfig = Static<typeof ServerConfigSchema>
export type ConsoleConfig = Static<typeof ConsoleConfigSchema>
export type QueueConfig = Static<typeof QueueConfigSchema>
export type StoreConfig = Static<typeof StoreConfigSchema>
export type RetentionConfig = StoreConfig['retention']

/** store.retention with every default, as a configuration without the key gets it. */
export const defaultRetention = (): RetentionConfig => Value.Default(RetentionSettings, {}) as RetentionConfig
export type SalesforceConfig = Static<typeof SalesforceConfigSchema>
export type SDriveConfig = Static<typeof SDriveConfigSchema>
export type TlsConfig = Static<typeof TlsConfigSchema>
/** An endpoint as configured, plus its name (the key under `endpoints`). */
export type EndpointConfig = Static<typeof EndpointConfigSchema> & { name: string }
export type TargetConfig = Static<typeof TargetConfigSchema>
export type MatchRule = Static<typeof MatchRuleSchema>
export type FileNameRule = Static<typeof FileNameRuleSchema>
export type RecordIdRule = Static<typeof RecordIdRuleSchema>
export type FolderRule = Static<typeof FolderRuleSchema>
export type IndexRule = Static<typeof IndexRuleSchema>
export type IndexConfig = Static<typeof IndexConfigSchema>
export type Readiness = Static<typeof ReadinessSchema>
export type RetryConfig = Static<typeof RetryConfigSchema>
export type InboundFlow = Static<typeof InboundFlowSchema>
export type OutboundFlow = Static<typeof OutboundFlowSchema>
export type StatusFlow = Static<typeof StatusFlowSchema>
/** What the services that read a flow's source folder need of it: inbound and status flows alike. */
export type SourceFlow = Pick<
  InboundFlow,
  'name' | 'source' | 'readiness' | 'after' | 'retry' | 'maxFilesPerRun'
> &
  Partial<Pick<InboundFlow, 'index' | 'pgp'>>
export type StatusField = Static<typeof StatusFieldSchema>
export type StatusFormat = Static<typeof StatusFormatSchema>
export type ReviewConfig = Static<typeof ReviewConfigSchema>
export type Flow = Static<typeof FlowSchema>
export type NotificationsConfig = Static<typeof NotificationsConfigSchema>
export type NotificationChannel = Static<typeof NotificationChannelSchema>
export type WebhookChannel = Static<typeof WebhookChannelSchema>
export type SalesforceEmailChannel = Static<typeof SalesforceEmailChannelSchema>
export type PlatformEventChannel = Static<typeof PlatformEventChannelSchema>
export type NotificationRule = Static<typeof NotificationRuleSchema>
