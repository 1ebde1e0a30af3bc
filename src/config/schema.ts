/**
 * The configuration file's JSON Schema (TypeBox). One schema validates the
 * file at start-up and types the rest of the code through Static<>.
 */
import { type Static, Type as T } from '@sinclair/typebox'

const Seconds = (description: string, def: number) => T.Number({ minimum: 0, default: def, description })
const Millis = (description: string, def: number) => T.Integer({ minimum: 1, default: def, description })

export const ServerConfigSchema = T.Object(
  {
    host: T.String({ default: '0.0.0.0' }),
    port: T.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    apiKeys: T.Array(T.String({ minLength: 16 }), {
      default: [],
      description: 'Bearer keys accepted by the API; use ${VAR} references, at least 16 characters each.',
    }),
    bodyLimitBytes: T.Integer({ minimum: 1024, default: 1_048_576 }),
    trustProxy: T.Boolean({ default: false }),
    shutdownGraceMs: T.Integer({
      minimum: 0,
      default: 25_000,
      description: 'On SIGTERM, transfers in flight may finish for this long before they are abandoned.',
    }),
  },
  { additionalProperties: false, default: {} },
)

export const QueueConfigSchema = T.Object(
  {
    maxConcurrentTransfers: T.Integer({ minimum: 1, maximum: 256, default: 4 }),
    maxQueuedItems: T.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Beyond this the API answers 429.',
    }),
    maxActiveRuns: T.Integer({ minimum: 1, default: 50 }),
  },
  { additionalProperties: false, default: {} },
)

export const StoreConfigSchema = T.Object(
  {
    sqlitePath: T.String({ minLength: 1, default: './data/bridge.sqlite' }),
    postgresUrl: T.Optional(
      T.String({
        pattern: '^postgres(ql)?://',
        description:
          'PostgreSQL connection URL; when set, state lives there (shared by replicas) instead of in sqlitePath.',
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
    retention: T.Object(
      {
        runDays: retentionDays(
          'Finished transfer runs (inbound, status) and their items are deleted this many days after they finished. The exactly-once ledger keeps every file: a pruned file is never taken again.',
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
    ),
  },
  { additionalProperties: false, default: {} },
)

function retentionDays(description: string) {
  return T.Integer({ minimum: 0, maximum: 36_500, default: 30, description })
}

export const ClientCredentialsAuthSchema = T.Object(
  {
    type: T.Literal('client_credentials'),
    clientId: T.String({ minLength: 1 }),
    clientSecret: T.String({ minLength: 1 }),
  },
  { additionalProperties: false },
)

export const JwtAuthSchema = T.Object(
  {
    type: T.Literal('jwt'),
    clientId: T.String({ minLength: 1 }),
    username: T.String({ minLength: 1 }),
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
    loginUrl: T.String({ pattern: '^https?://', default: 'https://login.salesforce.com' }),
    apiVersion: T.String({ pattern: '^[0-9]+\\.[0-9]$', default: '63.0' }),
    auth: T.Union([ClientCredentialsAuthSchema, JwtAuthSchema]),
    timeoutMs: Millis('Deadline for one Salesforce call.', 60_000),
    maxRetries: T.Integer({ minimum: 0, maximum: 10, default: 4 }),
    apiLimitProbeIntervalMs: Millis(
      'While the org is at its API limit, every Salesforce call waits and one probe call per interval checks whether the limit has lifted.',
      60_000,
    ),
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
      description: 'Where the S3 browser-POST form goes (the bucket endpoint); S-Drive does not return it.',
    }),
    idListEncoding: T.Union([T.Literal('comma'), T.Literal('json')], {
      default: 'comma',
      description: 'How id lists are packed into one query parameter (UNCONFIRMED in the S-Drive docs).',
    }),
    linkLifetimeSeconds: T.Integer({ minimum: 1, default: 300 }),
    uploadTimeoutMs: Millis('Deadline for one S3 upload without progress.', 120_000),
    replaceMode: T.Union([T.Literal('delete'), T.Literal('softDelete')], {
      default: 'softDelete',
      description:
        'How the existing file is removed under the replace policy: delete the file record, or set Is_Deleted__c.',
    }),
  },
  { additionalProperties: false },
)

export const TlsConfigSchema = T.Object(
  {
    ca: T.Optional(T.String({ description: 'PEM of a private CA to trust.' })),
    rejectUnauthorized: T.Boolean({ default: true }),
    minVersion: T.Optional(T.Union([T.Literal('TLSv1.2'), T.Literal('TLSv1.3')])),
    maxVersion: T.Optional(T.Union([T.Literal('TLSv1.2'), T.Literal('TLSv1.3')])),
    servername: T.Optional(T.String()),
  },
  { additionalProperties: false, default: {} },
)

export const EndpointConfigSchema = T.Object(
  {
    protocol: T.Union([T.Literal('sftp'), T.Literal('ftp'), T.Literal('ftps'), T.Literal('ftps-implicit')]),
    host: T.String({ minLength: 1 }),
    port: T.Optional(T.Integer({ minimum: 1, maximum: 65535 })),
    username: T.String({ minLength: 1 }),
    password: T.Optional(T.String()),
    privateKey: T.Optional(T.String({ description: 'PEM/OpenSSH private key text (SFTP).' })),
    passphrase: T.Optional(T.String()),
    hostKeySha256: T.Optional(
      T.String({ description: 'Pinned SFTP host key: "SHA256:<base64>" as ssh-keygen -l prints it.' }),
    ),
    insecureSkipHostKeyCheck: T.Boolean({ default: false }),
    tls: TlsConfigSchema,
    maxConnections: T.Integer({ minimum: 1, maximum: 64, default: 2 }),
    connectTimeoutMs: Millis('Deadline for connect + login.', 15_000),
    operationTimeoutMs: Millis('Deadline for one command, and for a transfer without progress.', 60_000),
    keepaliveIntervalMs: Millis('SSH keepalive / FTP NOOP interval.', 10_000),
    idleCloseMs: Millis('Close a pooled connection unused this long.', 30_000),
    fileNameEncoding: T.Union([T.Literal('utf8'), T.Literal('latin1')], { default: 'utf8' }),
    supportsRename: T.Boolean({ default: true }),
  },
  { additionalProperties: false },
)

const FieldMap = T.Record(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), T.String(), {
  description: 'Field API name → value template ({now}, {job.id}, {error}, {file.count}, …).',
})

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
            'Template: where rejected files go, e.g. /rejected/{record.id}. Must not be a folder the flow reads.',
        }),
        fileName: T.String({
          minLength: 1,
          default: '{file.stem}__{correlationId}{file.ext}',
          description:
            'Template of the returned file name; keep {correlationId} in it so the resubmission is recognised by name.',
        }),
      },
      { additionalProperties: false },
    ),
    object: T.Optional(
      T.String({
        pattern: '^[A-Za-z][A-Za-z0-9_]*$',
        description:
          "The reviewed records' sObject (for the review fields); default: the match rules' object.",
      }),
    ),
    onRejected: T.Optional(FieldMap),
    onResubmitted: T.Optional(FieldMap),
    resubmission: T.Union([T.Literal('version'), T.Literal('replace')], {
      default: 'version',
      description:
        'version: the corrected file is added under the original name and the original is marked not latest (Is_Latest_Version__c = false); replace: the original is removed per sdrive.replaceMode.',
    }),
  },
  { additionalProperties: false },
)

const TargetFields = {
  fileObject: T.String({
    pattern: '^[A-Za-z][A-Za-z0-9_]*$',
    description: 'S-Drive file object, e.g. cg__AccountFile__c',
  }),
  parentField: T.String({
    pattern: '^[A-Za-z][A-Za-z0-9_]*$',
    description: 'Its parent lookup field, e.g. cg__Account__c',
  }),
  folder: T.Optional(T.String({ description: 'S-Drive folder name (template) the file goes into.' })),
  description: T.Optional(
    T.String({ description: 'Description template, e.g. "From {flow}: {file.name}".' }),
  ),
}

export const TargetConfigSchema = T.Object(TargetFields, { additionalProperties: false })
export const PartialTargetConfigSchema = T.Partial(TargetConfigSchema, { additionalProperties: false })

const ObjectName = T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' })

export const FileNameRuleSchema = T.Object(
  {
    type: T.Literal('filename'),
    pattern: T.String({ minLength: 1, description: 'Regex with named groups, applied to the file name.' }),
    object: ObjectName,
    fields: T.Optional(
      T.Record(T.String(), ObjectName, { description: 'Group name → lookup field; default: same name.' }),
    ),
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const RecordIdRuleSchema = T.Object(
  {
    type: T.Literal('recordId'),
    pattern: T.Optional(
      T.String({ description: 'Regex with a named group "id"; default finds a 15/18-char id.' }),
    ),
    object: ObjectName,
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const FolderRuleSchema = T.Object(
  {
    type: T.Literal('folder'),
    template: T.String({
      minLength: 1,
      description:
        'Folder path relative to the source directory, with {Field} segments, e.g. "{AccountNumber}".',
    }),
    object: ObjectName,
    target: T.Optional(PartialTargetConfigSchema),
  },
  { additionalProperties: false },
)

export const MatchRuleSchema = T.Union([FileNameRuleSchema, RecordIdRuleSchema, FolderRuleSchema])

export const ReadinessSchema = T.Union([
  T.Object(
    {
      mode: T.Literal('stable'),
      stableSeconds: Seconds('Size and mtime must not change across this re-check.', 5),
      minAgeSeconds: Seconds('The file must be at least this old (by its mtime).', 10),
    },
    { additionalProperties: false },
  ),
  T.Object(
    { mode: T.Literal('doneMarker'), suffix: T.String({ minLength: 1, default: '.done' }) },
    { additionalProperties: false },
  ),
])

export const RetryConfigSchema = T.Object(
  {
    maxAttempts: T.Integer({ minimum: 1, maximum: 50, default: 5 }),
    baseDelayMs: T.Integer({ minimum: 0, default: 1000 }),
    maxDelayMs: T.Integer({ minimum: 0, default: 60_000 }),
  },
  { additionalProperties: false, default: {} },
)

const FlowName = T.String({ pattern: '^[a-z0-9][a-z0-9-_]*$', maxLength: 64 })

/** The remote folder an inbound or status flow reads; only the default file patterns differ. */
const FolderSourceSchema = (include: string[]) =>
  T.Object(
    {
      endpoint: T.String({ minLength: 1 }),
      directory: T.String({ minLength: 1, pattern: '^/' }),
      include: T.Array(T.String({ minLength: 1 }), { default: include }),
      exclude: T.Array(T.String({ minLength: 1 }), { default: [] }),
      recursive: T.Boolean({ default: false }),
    },
    { additionalProperties: false },
  )

/** What becomes of a read file (inbound and status flows). */
const AfterSchema = T.Object(
  {
    success: T.Union([T.Literal('move'), T.Literal('delete'), T.Literal('keep')], { default: 'move' }),
    processedDirectory: T.Optional(T.String({ pattern: '^/' })),
    errorDirectory: T.String({ pattern: '^/' }),
  },
  { additionalProperties: false },
)

/** When an inbound or status flow runs by itself. */
const ScheduleSchema = T.Object(
  { cron: T.String({ minLength: 1 }), timezone: T.String({ default: 'UTC' }) },
  { additionalProperties: false },
)

export const InboundFlowSchema = T.Object(
  {
    name: FlowName,
    kind: T.Literal('inbound'),
    description: T.Optional(T.String()),
    source: FolderSourceSchema(['**']),
    readiness: T.Optional(ReadinessSchema),
    match: T.Array(MatchRuleSchema, { minItems: 1 }),
    target: TargetConfigSchema,
    existing: T.Union([T.Literal('skip'), T.Literal('replace'), T.Literal('duplicate')], { default: 'skip' }),
    after: AfterSchema,
    schedule: T.Optional(ScheduleSchema),
    retry: RetryConfigSchema,
    maxFilesPerRun: T.Integer({ minimum: 1, default: 10_000 }),
    review: T.Optional(ReviewConfigSchema),
  },
  { additionalProperties: false },
)

export const OutboundFlowSchema = T.Object(
  {
    name: FlowName,
    kind: T.Literal('outbound'),
    description: T.Optional(T.String()),
    source: T.Object(
      {
        object: ObjectName,
        fileObject: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }),
        parentField: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }),
        folder: T.Optional(
          T.String({ description: 'Only files in this S-Drive folder (by name, at the record root).' }),
        ),
        include: T.Array(T.String({ minLength: 1 }), { default: ['*'] }),
        exclude: T.Array(T.String({ minLength: 1 }), { default: [] }),
        contentTypes: T.Optional(
          T.Array(T.String({ minLength: 1 }), { description: 'MIME types; "image/*" allowed.' }),
        ),
        maxFilesPerJob: T.Integer({ minimum: 1, default: 1000 }),
      },
      { additionalProperties: false },
    ),
    destination: T.Object(
      {
        endpoint: T.String({ minLength: 1 }),
        directory: T.String({
          minLength: 1,
          pattern: '^/',
          description: 'Template, e.g. /outbox/{Account.AccountNumber}',
        }),
        fileName: T.String({
          minLength: 1,
          default: '{file.name}',
          description: 'Template, e.g. {Name}_{file.name}',
        }),
        atomic: T.Boolean({ default: true, description: 'Write under a temporary name, then rename.' }),
        tempSuffix: T.String({ minLength: 1, default: '.part' }),
        existing: T.Union(
          [T.Literal('overwrite'), T.Literal('rename'), T.Literal('skip'), T.Literal('fail')],
          {
            default: 'rename',
          },
        ),
        replacement: T.String({
          maxLength: 1,
          default: '_',
          description: 'Replaces characters unsafe in remote names.',
        }),
      },
      { additionalProperties: false },
    ),
    manifest: T.Optional(
      T.Object(
        {
          format: T.Union([T.Literal('csv'), T.Literal('json')]),
          fileName: T.String({ minLength: 1, default: 'manifest-{job.id}.{format}' }),
          recordFields: T.Array(T.String({ pattern: '^[A-Za-z][A-Za-z0-9_.]*$' }), { default: [] }),
        },
        { additionalProperties: false },
      ),
    ),
    doneMarker: T.Optional(
      T.Object({ fileName: T.String({ minLength: 1, default: '_DONE' }) }, { additionalProperties: false }),
    ),
    window: T.Optional(
      T.Object(
        {
          cron: T.String({ minLength: 1 }),
          timezone: T.String({ default: 'UTC' }),
          batchFolder: T.String({
            minLength: 1,
            default: 'batch-{window}',
            description: 'Sub-folder per window.',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    archive: T.Object(
      {
        removeFromSDrive: T.Boolean({
          default: false,
          description: 'Opt-in: remove after a verified delivery.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    writeBack: T.Optional(
      T.Object(
        {
          onSuccess: T.Optional(FieldMap),
          onFailure: T.Optional(FieldMap),
          onNothingToExport: T.Optional(FieldMap),
        },
        { additionalProperties: false },
      ),
    ),
    outboundMessages: T.Optional(
      T.Object(
        {
          organizationIds: T.Array(T.String({ pattern: '^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$' }), {
            minItems: 1,
          }),
          secret: T.String({
            minLength: 16,
            description: 'Shared secret carried in the endpoint URL (?secret=…).',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    retry: RetryConfigSchema,
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
    type: T.Union(
      [
        T.Literal('string'),
        T.Literal('number'),
        T.Literal('integer'),
        T.Literal('boolean'),
        T.Literal('date'),
        T.Literal('datetime'),
        T.Literal('picklist'),
      ],
      { default: 'string' },
    ),
    values: T.Optional(T.Array(T.String(), { minItems: 1, description: 'Allowed values (picklist).' })),
    maxLength: T.Optional(T.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
)

export const StatusFormatSchema = T.Object(
  {
    type: T.Union([T.Literal('csv'), T.Literal('json'), T.Literal('xml')]),
    encoding: T.Union([T.Literal('utf8'), T.Literal('utf16le'), T.Literal('latin1')], { default: 'utf8' }),
    delimiter: T.String({ minLength: 1, maxLength: 1, default: ',', description: 'CSV only.' }),
    recordsPath: T.String({
      default: '',
      description:
        'JSON: dotted path to the array of rows ("" = the document itself, or its single array property); XML: dotted path of the repeated row element, e.g. "statuses.status".',
    }),
    maxBytes: T.Integer({ minimum: 1, default: 52_428_800, description: 'Larger status files are refused.' }),
  },
  { additionalProperties: false },
)

export const StatusFlowSchema = T.Object(
  {
    name: FlowName,
    kind: T.Literal('status'),
    description: T.Optional(T.String()),
    source: FolderSourceSchema(['*.csv', '*.json', '*.xml']),
    readiness: T.Optional(ReadinessSchema),
    format: StatusFormatSchema,
    object: ObjectName,
    key: T.Object(
      {
        column: T.String({ minLength: 1, description: 'The column naming the record.' }),
        by: T.Union([T.Literal('id'), T.Literal('externalId'), T.Literal('correlationId')]),
        field: T.Optional(
          T.String({
            pattern: '^[A-Za-z][A-Za-z0-9_]*$',
            description: 'by externalId: the field looked up.',
          }),
        ),
      },
      { additionalProperties: false },
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
          fileObject: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }),
          parentField: T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }),
          folder: T.Optional(T.String()),
          description: T.Optional(T.String()),
        },
        { additionalProperties: false },
      ),
    ),
    after: AfterSchema,
    schedule: T.Optional(ScheduleSchema),
    retry: RetryConfigSchema,
    maxFilesPerRun: T.Integer({ minimum: 1, default: 1000 }),
  },
  { additionalProperties: false },
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
    }),
    flows: T.Array(FlowSchema, { default: [] }),
  },
  { additionalProperties: false },
)

export type BridgeConfig = Static<typeof ConfigSchema>
export type ServerConfig = Static<typeof ServerConfigSchema>
export type QueueConfig = Static<typeof QueueConfigSchema>
export type StoreConfig = Static<typeof StoreConfigSchema>
export type RetentionConfig = StoreConfig['retention']
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
export type Readiness = Static<typeof ReadinessSchema>
export type RetryConfig = Static<typeof RetryConfigSchema>
export type InboundFlow = Static<typeof InboundFlowSchema>
export type OutboundFlow = Static<typeof OutboundFlowSchema>
export type StatusFlow = Static<typeof StatusFlowSchema>
/** What the services that read a flow's source folder need of it: inbound and status flows alike. */
export type SourceFlow = Pick<
  InboundFlow,
  'name' | 'source' | 'readiness' | 'after' | 'retry' | 'maxFilesPerRun'
>
export type StatusField = Static<typeof StatusFieldSchema>
export type StatusFormat = Static<typeof StatusFormatSchema>
export type ReviewConfig = Static<typeof ReviewConfigSchema>
export type Flow = Static<typeof FlowSchema>
