// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings test ${VAR} references, not templates.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse, stringify } from 'yaml'
import {
  ConfigError,
  type ConfigIssue,
  type Env,
  type LoadedConfig,
  loadConfig,
  parseConfig,
  REDACTED,
  redactConfig,
} from '../../src/config/load.js'
import type { InboundFlow, OutboundFlow } from '../../src/config/schema.js'
import { isBridgeError } from '../../src/domain/errors.js'
import { parsePlaceholders } from '../../src/domain/placeholders.js'

const fixturePath = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bridge.example.yaml')
const fixtureText = readFileSync(fixturePath, 'utf8')

const env: Env = {
  BRIDGE_API_KEY: 'k3y-0123456789abcdef-k3y',
  SF_CLIENT_ID: '3MVG9-example-client-id',
  SF_CLIENT_SECRET: 'example-client-secret',
  PARTNER_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
  PARTNER_SFTP_PASSPHRASE: 'correct horse',
  SCANNER_FTP_PASSWORD: 'scanner-pass',
  BANK_FTPS_PASSWORD: 'bank-pass',
  BANK_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nBBBB\n-----END OPENSSH PRIVATE KEY-----\n',
  OM_SECRET: 'om-secret-0123456789abcdef',
}

/** `flows` is a union discriminated by kind; these narrow it for the assertions. */
function inboundFlows(config: LoadedConfig): InboundFlow[] {
  return config.flows.filter((f): f is InboundFlow => f.kind === 'inbound')
}

function outboundFlows(config: LoadedConfig): OutboundFlow[] {
  return config.flows.filter((f): f is OutboundFlow => f.kind === 'outbound')
}

/** Index of the example's outbound flow under `flows`. */
const OUT = 3

/** The fixture as plain data (references unresolved), to mutate per case. */
function fixtureData(): Record<string, unknown> {
  return parse(fixtureText) as Record<string, unknown>
}

type Segment = string | number

/** Sets (or, with `undefined`, deletes) a value at a path in plain data. */
function setAt(data: Record<string, unknown>, path: Segment[], value: unknown): void {
  let node: unknown = data
  for (const segment of path.slice(0, -1)) node = (node as Record<Segment, unknown>)[segment]
  const last = path[path.length - 1]!
  const parent = node as Record<Segment, unknown>
  if (value === undefined) delete parent[last]
  else parent[last] = value
}

/** The issues parsing finds; [] when the text is valid. */
function issuesFor(text: string, format: 'yaml' | 'json' = 'yaml', environment: Env = env): ConfigIssue[] {
  try {
    parseConfig(text, format, environment)
    return []
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues]
    throw error
  }
}

/** Issues for the fixture after some changes, as "path: message" lines. */
function errorsAfter(...changes: [Segment[], unknown][]): string[] {
  const data = fixtureData()
  for (const [path, value] of changes) setAt(data, path, value)
  return issuesFor(stringify(data)).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
}

t.test('the example configuration loads with defaults applied', async (t) => {
  const config = await loadConfig(fixturePath, env)

  t.match(config.server, { host: '0.0.0.0', port: 8080, bodyLimitBytes: 1_048_576, trustProxy: true })
  t.same(config.server.apiKeys, [env.BRIDGE_API_KEY])
  t.same(config.queue, { maxConcurrentTransfers: 8, maxQueuedItems: 5000, maxActiveRuns: 50 })
  t.equal(config.store.sqlitePath, './data/bridge.sqlite', '${VAR:-default} falls back when unset')
  t.same(config.salesforce, {
    loginUrl: 'https://login.salesforce.com',
    apiVersion: '63.0',
    auth: { type: 'client_credentials', clientId: env.SF_CLIENT_ID, clientSecret: env.SF_CLIENT_SECRET },
    timeoutMs: 60_000,
    maxRetries: 4,
    apiLimitProbeIntervalMs: 60_000,
    // Where the Pub/Sub trigger subscribes (issue 16), filled in even when no flow uses it.
    pubsub: { endpoint: 'api.pubsub.salesforce.com:7443', tls: true, reconnectMaxDelayMs: 30_000 },
  })
  t.match(config.sdrive, {
    filesPath: '/cg/SDrive/files',
    idListEncoding: 'comma',
    linkLifetimeSeconds: 300,
    uploadTimeoutMs: 120_000,
    completionWaitMs: 2000,
    replaceMode: 'softDelete',
  })

  t.same(Object.keys(config.endpoints), ['partner-sftp', 'scanner-ftp', 'bank-ftps', 'bank-sftp'])
  const sftp = config.endpoints['partner-sftp']!
  t.match(sftp, {
    name: 'partner-sftp',
    protocol: 'sftp',
    privateKey: env.PARTNER_SFTP_KEY,
    passphrase: env.PARTNER_SFTP_PASSPHRASE,
    insecureSkipHostKeyCheck: false,
    maxConnections: 4,
    connectTimeoutMs: 15_000,
    operationTimeoutMs: 60_000,
    keepaliveIntervalMs: 10_000,
    idleCloseMs: 30_000,
    fileNameEncoding: 'utf8',
    supportsRename: true,
  })
  t.match(config.endpoints['scanner-ftp'], {
    name: 'scanner-ftp',
    protocol: 'ftp',
    password: env.SCANNER_FTP_PASSWORD,
    fileNameEncoding: 'latin1',
    supportsRename: false,
    maxConnections: 2,
    tls: { rejectUnauthorized: true },
  })
  t.match(config.endpoints['bank-ftps'], {
    name: 'bank-ftps',
    tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', rejectUnauthorized: true, ca: /BEGIN CERTIFICATE/ },
  })

  t.same(
    config.flows.map((f) => f.name),
    ['partner-invoices', 'scanned-contracts', 'bank-statements', 'contracts-to-bank'],
  )
  const [invoices, contracts, statements] = inboundFlows(config)
  t.same(
    inboundFlows(config).map((f) => f.match.map((m) => m.type)),
    [['filename'], ['recordId', 'recordId'], ['folder']],
    'each match rule type appears',
  )
  t.same(
    invoices?.readiness,
    { mode: 'stable', stableSeconds: 10, minAgeSeconds: 10 },
    'defaults inside a union',
  )
  t.same(contracts?.readiness, { mode: 'doneMarker', suffix: '.done' })
  t.equal(statements?.readiness, undefined, 'an optional union stays absent')
  t.same(invoices?.source, {
    endpoint: 'partner-sftp',
    directory: '/outbound/invoices',
    include: ['*.pdf'],
    exclude: ['*.tmp'],
    recursive: false,
  })
  t.same(statements?.source.include, ['**'])
  t.same(statements?.source.exclude, [])
  t.equal(invoices?.existing, 'skip')
  t.same(invoices?.retry, { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 })
  t.same(contracts?.retry, { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 })
  t.equal(invoices?.maxFilesPerRun, 10_000)
  t.same(statements?.schedule, { cron: '0 6 * * 1-5', timezone: 'UTC' })
})

t.test('JSON configurations', async (t) => {
  const json = JSON.stringify(fixtureData(), null, 2)
  const config = parseConfig(json, 'json', env)
  t.equal(config.endpoints['bank-ftps']?.name, 'bank-ftps')
  t.equal(config.flows.length, 4)

  const dir = mkdtempSync(join(tmpdir(), 'bridge-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'bridge.json')
  writeFileSync(file, json)
  t.equal((await loadConfig(file, env)).flows[0]?.name, 'partner-invoices', '.json files are read as JSON')

  const broken = '{\n  "server": {\n    "port": 8080,\n  }\n}\n'
  const [problem, ...rest] = issuesFor(broken, 'json')
  t.same(rest, [])
  t.equal(problem?.path, '')
  t.match(problem?.message, /^invalid JSON: .*\(line 4, column 3\)$/)
})

t.test('YAML syntax errors are reported with their position', async (t) => {
  const issues = issuesFor('server:\n  port: 8080\n  port: 9090\n')
  t.equal(issues.length, 1)
  t.match(issues[0]?.message, /^invalid YAML: Map keys must be unique at line 3, column 3$/)
  t.match(issuesFor('flows: [1,\n')[0]?.message, /^invalid YAML: .*line \d+, column \d+/)
  t.same(issuesFor(''), [{ path: '', message: 'the configuration is empty' }])
  t.same(issuesFor('- a\n- b\n'), [{ path: '', message: 'the configuration must be a mapping' }])
})

t.test('environment references', async (t) => {
  t.test('resolve ${VAR}, ${VAR:-default} and $${', async (t) => {
    const data = fixtureData()
    setAt(data, ['flows', 0, 'description'], 'cost $${HOME} ${MISSING:-n/a} ${EMPTY:-fallback} [${EMPTY}]')
    setAt(data, ['store', 'sqlitePath'], '${BRIDGE_DATA_DIR:-./data}/bridge.sqlite')
    const config = parseConfig(stringify(data), 'yaml', {
      ...env,
      EMPTY: '',
      BRIDGE_DATA_DIR: '/var/lib/bridge',
    })
    t.equal(config.flows[0]?.description, 'cost ${HOME} n/a fallback []', 'literal, default, empty')
    t.equal(config.store.sqlitePath, '/var/lib/bridge/bridge.sqlite', 'a set variable wins over the default')
  })

  t.test('a missing variable names the key and the variable', async (t) => {
    const { SF_CLIENT_SECRET: _secret, BANK_FTPS_PASSWORD: _password, ...partial } = env
    const issues = issuesFor(fixtureText, 'yaml', partial)
    t.same(issues, [
      {
        path: 'salesforce.auth.clientSecret',
        message: 'environment variable SF_CLIENT_SECRET is not set',
      },
      {
        path: 'endpoints.bank-ftps.password',
        message: 'environment variable BANK_FTPS_PASSWORD is not set',
      },
    ])
    const error = t.throws(() => parseConfig(fixtureText, 'yaml', partial)) as ConfigError
    t.equal(
      error.message,
      'invalid configuration:\n' +
        'salesforce.auth.clientSecret: environment variable SF_CLIENT_SECRET is not set\n' +
        'endpoints.bank-ftps.password: environment variable BANK_FTPS_PASSWORD is not set',
    )
  })

  t.test('array elements and malformed references', async (t) => {
    const { BRIDGE_API_KEY: _key, ...partial } = env
    t.same(issuesFor(fixtureText, 'yaml', partial), [
      { path: 'server.apiKeys[0]', message: 'environment variable BRIDGE_API_KEY is not set' },
    ])
    t.same(errorsAfter([['flows', 1, 'description'], 'a ${not-a-name} b']), [
      'flows[1].description: invalid environment reference "${not-a-name}"',
    ])
    t.same(errorsAfter([['flows', 1, 'description'], 'a ${OPEN']), [
      'flows[1].description: unterminated environment reference "${OPEN" (write $${ for a literal ${)',
    ])
  })
})

t.test('schema errors as key paths', async (t) => {
  t.same(errorsAfter([['endpoints', 'partner-sftp', 'port'], 70000]), [
    'endpoints.partner-sftp.port: must be <= 65535',
  ])
  t.same(errorsAfter([['server', 'prot'], 8080]), ['server.prot: unknown key'])
  t.same(errorsAfter([['flows', 2, 'match', 0, 'colour'], 'red']), ['flows[2].match[0].colour: unknown key'])
  t.same(errorsAfter([['endpoints', 'partner-sftp', 'port'], '22']), [
    'endpoints.partner-sftp.port: must be integer',
  ])
  t.same(errorsAfter([['sdrive'], undefined]), ['sdrive: required'])
  t.same(errorsAfter([['flows', 0, 'after', 'errorDirectory'], undefined]), [
    'flows[0].after.errorDirectory: required',
  ])
  t.same(errorsAfter([['flows', 0, 'match', 0, 'pattern'], '']), [
    'flows[0].match[0].pattern: must not be empty',
  ])
  t.same(errorsAfter([['sdrive', 'idListEncoding'], 'csv']), [
    'sdrive.idListEncoding: must be one of "comma", "json"',
  ])
  t.same(errorsAfter([['flows', 0, 'source', 'directory'], 'outbound']), [
    'flows[0].source.directory: must match pattern "^/"',
  ])
  t.same(
    errorsAfter([
      ['endpoints', 'partner sftp'],
      { protocol: 'ftp', host: 'h', username: 'u', password: 'p' },
    ]),
    ['endpoints.partner sftp: invalid name: must match ^[A-Za-z0-9][A-Za-z0-9-_]*$'],
  )
  t.same(errorsAfter([['flows', 0, 'match'], []]), ['flows[0].match: must NOT have fewer than 1 items'])
})

t.test('unions report only the branch their discriminator picks', async (t) => {
  t.same(
    errorsAfter([
      ['salesforce', 'auth'],
      { type: 'jwt', clientId: 'abc', privateKey: 'PEM', clientSecret: 'x' },
    ]),
    ['salesforce.auth.username: required', 'salesforce.auth.clientSecret: unknown key'],
  )
  t.same(errorsAfter([['salesforce', 'auth', 'type'], 'password']), [
    'salesforce.auth.type: must be one of "client_credentials", "jwt"',
  ])
  t.same(errorsAfter([['salesforce', 'auth', 'type'], undefined]), [
    'salesforce.auth.type: required, must be one of "client_credentials", "jwt"',
  ])
  t.same(errorsAfter([['flows', 0, 'match', 0, 'type'], 'regex']), [
    'flows[0].match[0].type: must be one of "filename", "recordId", "folder", "index"',
  ])
  t.same(errorsAfter([['flows', 2, 'match', 0, 'template'], undefined]), [
    'flows[2].match[0].template: required',
  ])
  t.same(errorsAfter([['flows', 0, 'readiness'], { mode: 'doneMarker', stableSeconds: 5 }]), [
    'flows[0].readiness.stableSeconds: unknown key',
  ])
  t.same(errorsAfter([['flows', 0, 'readiness', 'stableSeconds'], -1]), [
    'flows[0].readiness.stableSeconds: must be >= 0',
  ])
})

t.test('checks beyond the schema', async (t) => {
  t.same(
    errorsAfter([
      ['flows', 2, 'match', 0],
      { type: 'filename', pattern: '^(?<acct>\\d+', object: 'Account' },
    ]),
    [
      'flows[2].match[0].pattern: invalid regular expression: Invalid regular expression: /^(?<acct>\\d+/u: Unterminated group',
    ],
  )
  t.same(errorsAfter([['flows', 0, 'match', 0, 'pattern'], '^INV-\\d+\\.pdf$']), [
    'flows[0].match[0].pattern: must have at least one named group, e.g. (?<AccountNumber>\\d+)',
  ])
  t.same(errorsAfter([['flows', 0, 'match', 0, 'fields'], { account: 'AccountNumber' }]), [
    'flows[0].match[0].fields.account: the pattern has no group named "account"',
  ])
  t.same(errorsAfter([['flows', 0, 'match', 0, 'pattern'], '^INV-(?<_acct>\\d{6})\\.pdf$']), [
    'flows[0].match[0].fields.acct: the pattern has no group named "acct"',
    'flows[0].match[0].pattern: group "_acct" is not a valid field name; map it to one under fields',
  ])
  t.same(
    errorsAfter([['flows', 0, 'match', 0, 'fields'], undefined]),
    [],
    'an unmapped group names its field',
  )
  t.same(errorsAfter([['flows', 1, 'match', 0, 'pattern'], '^OPP_(?<opp>[A-Za-z0-9]{18})_']), [
    'flows[1].match[0].pattern: must have a group named "id", e.g. (?<id>[A-Za-z0-9]{18})',
  ])
  t.same(errorsAfter([['flows', 1, 'match', 0, 'pattern'], '^OPP_(?<id>[A-Z']), [
    'flows[1].match[0].pattern: invalid regular expression: Invalid regular expression: /^OPP_(?<id>[A-Z/u: Unterminated character class',
  ])
  t.same(errorsAfter([['flows', 2, 'match', 0, 'template'], 'statements']), [
    'flows[2].match[0].template: must contain at least one {Field}',
  ])
  t.same(errorsAfter([['flows', 2, 'match', 0, 'template'], '{Account Number}']), [
    'flows[2].match[0].template: "{Account Number}" is not a {Field} reference',
  ])
  t.same(errorsAfter([['flows', 2, 'name'], 'partner-invoices']), [
    'flows[2].name: duplicate flow name "partner-invoices" (also flows[0])',
  ])
  t.same(errorsAfter([['flows', 1, 'source', 'endpoint'], 'scanner']), [
    'flows[1].source.endpoint: unknown endpoint "scanner" (configured: partner-sftp, scanner-ftp, bank-ftps, bank-sftp)',
  ])
  t.same(errorsAfter([['flows', 0, 'after', 'processedDirectory'], undefined]), [
    'flows[0].after.processedDirectory: required when after.success is "move"',
  ])
  t.same(
    errorsAfter(
      [['flows', 0, 'after', 'processedDirectory'], undefined],
      [['flows', 0, 'after', 'success'], undefined],
    ),
    ['flows[0].after.processedDirectory: required when after.success is "move"'],
    'move is the default',
  )
  t.same(errorsAfter([['endpoints', 'partner-sftp', 'hostKeySha256'], undefined]), [
    'endpoints.partner-sftp.hostKeySha256: required for sftp endpoints unless insecureSkipHostKeyCheck is true',
  ])
  t.same(
    errorsAfter(
      [['endpoints', 'partner-sftp', 'hostKeySha256'], undefined],
      [['endpoints', 'partner-sftp', 'insecureSkipHostKeyCheck'], true],
    ),
    [],
  )
  t.same(errorsAfter([['endpoints', 'partner-sftp', 'hostKeySha256'], 'ab:cd:ef']), [
    'endpoints.partner-sftp.hostKeySha256: must look like "SHA256:<43 base64 characters>" (ssh-keygen -l)',
  ])
  t.same(errorsAfter([['endpoints', 'partner-sftp', 'privateKey'], undefined]), [
    'endpoints.partner-sftp: password or privateKey is required',
  ])
  t.same(
    errorsAfter(
      [['endpoints', 'partner-sftp', 'privateKey'], undefined],
      [['endpoints', 'partner-sftp', 'password'], 'secret'],
    ),
    [],
  )
  t.same(errorsAfter([['endpoints', 'scanner-ftp', 'password'], undefined]), [
    'endpoints.scanner-ftp.password: required for ftp endpoints',
  ])
  t.same(errorsAfter([['endpoints', 'bank-ftps', 'privateKey'], 'KEY']), [
    'endpoints.bank-ftps.privateKey: only used by sftp endpoints',
  ])
  t.same(
    errorsAfter(
      [['endpoints', 'bank-ftps', 'tls', 'minVersion'], 'TLSv1.3'],
      [['endpoints', 'bank-ftps', 'tls', 'maxVersion'], 'TLSv1.2'],
    ),
    ['endpoints.bank-ftps.tls.minVersion: must not be higher than maxVersion (TLSv1.3 > TLSv1.2)'],
  )
  t.same(errorsAfter([['flows', 0, 'schedule', 'cron'], '61 * * * *']), [
    'flows[0].schedule.cron: invalid cron expression: CronPattern: Invalid value for minute: 61',
  ])
  t.same(errorsAfter([['flows', 0, 'schedule', 'timezone'], 'Europe/Atlantis']), [
    'flows[0].schedule.timezone: unknown time zone "Europe/Atlantis" (use an IANA name like Europe/Berlin)',
  ])
  t.same(errorsAfter([['flows', 0, 'retry'], { baseDelayMs: 5000, maxDelayMs: 1000 }]), [
    'flows[0].retry.baseDelayMs: must not exceed maxDelayMs (1000)',
  ])
})

t.test('outbound flows: the example loads with defaults applied', async (t) => {
  const config = parseConfig(fixtureText, 'yaml', env)
  const [flow, ...others] = outboundFlows(config)
  t.same(others, [], 'one outbound flow in the example')
  t.equal(flow?.kind, 'outbound')
  t.same(flow?.source, {
    object: 'Opportunity',
    fileObject: 'cg__OpportunityFile__c',
    parentField: 'cg__Opportunity__c',
    folder: 'Contracts',
    include: ['*.pdf'],
    exclude: [],
    contentTypes: ['application/pdf'],
    maxFilesPerJob: 1000,
  })
  t.same(flow?.destination, {
    endpoint: 'bank-sftp',
    directory: '/incoming/contracts/{Account.AccountNumber}',
    fileName: '{Account.AccountNumber}_{Id}_{now:yyyyMMdd}_{file.name}',
    atomic: true,
    tempSuffix: '.part',
    existing: 'rename',
    replacement: '_',
  })
  t.same(flow?.archive, { removeFromSDrive: false }, 'archive mode is never the default')
  t.same(flow?.window, {
    cron: '0 18 * * 1-5',
    timezone: 'Europe/Berlin',
    batchFolder: '{now:yyyyMMdd}-{window}',
  })
  t.same(flow?.outboundMessages, { organizationIds: ['00D5g000004ABCDEAZ'], secret: env.OM_SECRET })
  t.same(flow?.retry, { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 })
  t.equal(flow?.writeBack?.onFailure?.Export_Error__c, '{error}')
})

t.test('outbound flows: defaults of the optional parts', async (t) => {
  const data = fixtureData()
  setAt(data, ['flows', OUT], {
    name: 'minimal-export',
    kind: 'outbound',
    source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    destination: { endpoint: 'bank-sftp', directory: '/out' },
    manifest: { format: 'json' },
    doneMarker: {},
    window: { cron: '0 * * * *' },
  })
  const flow = outboundFlows(parseConfig(stringify(data), 'yaml', env))[0]
  t.same(flow?.source.include, ['*'])
  t.match(flow?.destination, {
    fileName: '{file.name}',
    atomic: true,
    tempSuffix: '.part',
    existing: 'rename',
  })
  t.same(flow?.manifest, { format: 'json', fileName: 'manifest-{job.id}.{format}', recordFields: [] })
  t.same(flow?.doneMarker, { fileName: '_DONE' })
  t.same(flow?.window, { cron: '0 * * * *', timezone: 'UTC', batchFolder: 'batch-{window}' })
  t.same(flow?.archive, { removeFromSDrive: false })
  t.equal(flow?.writeBack, undefined)
  t.equal(flow?.outboundMessages, undefined)
})

t.test('parsePlaceholders finds every {name} and {name:format}', async (t) => {
  t.same(parsePlaceholders('/out/{Account.AccountNumber}/{now:yyyyMMdd}_{file.name}'), [
    { name: 'Account.AccountNumber' },
    { name: 'now', format: 'yyyyMMdd' },
    { name: 'file.name' },
  ])
  t.same(
    parsePlaceholders('{now:HH:mm}'),
    [{ name: 'now', format: 'HH:mm' }],
    'the name ends at the first colon',
  )
  t.same(
    parsePlaceholders('{now:}{}'),
    [{ name: 'now', format: '' }, { name: '' }],
    'empty parts are kept for the checks',
  )
  t.same(
    parsePlaceholders('plain } { text {a{b}'),
    [{ name: 'b' }],
    'braces do not nest; lone braces are text',
  )
  t.same(parsePlaceholders(''), [])
})

t.test('outbound flows: checks beyond the schema', async (t) => {
  const at = (...path: Segment[]): Segment[] => ['flows', OUT, ...path]
  const known =
    '(known: {file.name}, {file.id}, {file.size}, {file.contentType}, {correlationId}, {file.count}, {job.id}, {flow}, ' +
    '{now}, {now:yyyyMMdd}, {window}, {format}, {error}, {metadata.<key>}, {Field}, {Parent.Field})'

  t.same(errorsAfter([at('destination', 'endpoint'), 'bank']), [
    'flows[3].destination.endpoint: unknown endpoint "bank" (configured: partner-sftp, scanner-ftp, bank-ftps, bank-sftp)',
  ])
  t.same(errorsAfter([at('destination', 'directory'), '/out/{Account Number}']), [
    `flows[3].destination.directory: unknown placeholder {Account Number} ${known}`,
  ])
  t.same(errorsAfter([at('destination', 'fileName'), '{file.nme}']), [
    `flows[3].destination.fileName: unknown placeholder {file.nme} ${known}`,
  ])
  t.same(errorsAfter([at('destination', 'fileName'), '{job.name}_{file.name}']), [
    `flows[3].destination.fileName: unknown placeholder {job.name} ${known}`,
  ])
  t.same(errorsAfter([at('destination', 'fileName'), '{now:yyyy-MM-dd}_{now:YYYY}_{now:}.pdf']), [
    'flows[3].destination.fileName: {now:YYYY}: invalid date format "YYYY" (tokens: yyyy MM dd HH mm ss)',
    'flows[3].destination.fileName: {now:}: invalid date format "" (tokens: yyyy MM dd HH mm ss)',
  ])
  t.same(errorsAfter([at('destination', 'fileName'), '{file.name:upper}']), [
    'flows[3].destination.fileName: {file.name:upper}: only {now} takes a format',
  ])
  t.same(errorsAfter([at('manifest', 'fileName'), 'manifest-{job}.{format}']), [
    `flows[3].manifest.fileName: unknown placeholder {job} ${known}`,
  ])
  t.same(errorsAfter([at('window', 'batchFolder'), 'batch-{}']), [
    `flows[3].window.batchFolder: unknown placeholder {} ${known}`,
  ])
  t.same(errorsAfter([at('writeBack', 'onFailure', 'Export_Error__c'), '{error.message}']), [
    `flows[3].writeBack.onFailure.Export_Error__c: unknown placeholder {error.message} ${known}`,
  ])
  t.same(errorsAfter([at('writeBack', 'onSuccess', 'Export_Note__c'), '{metadata.}']), [
    `flows[3].writeBack.onSuccess.Export_Note__c: unknown placeholder {metadata.} ${known}`,
  ])
  t.same(
    errorsAfter(
      [at('destination', 'fileName'), '{metadata.batch_no}-{file.id}-{file.size}-{file.contentType}'],
      [at('destination', 'directory'), '/out/{flow}/{Account.Owner.Alias}/{now:yyyy/MM}'],
      [at('manifest', 'fileName'), '{job.id}-{now:HH:mm:ss}.{format}'],
      [at('writeBack', 'onSuccess', 'Export_Count__c'), '{file.count} file(s) at {now:yyyyMMdd-HHmmss}'],
      [at('writeBack', 'onSuccess', 'Export_Name__c'), '{Name} {literal braces} }{'],
    ),
    [`flows[3].writeBack.onSuccess.Export_Name__c: unknown placeholder {literal braces} ${known}`],
    'every known placeholder passes; braces that do not form a placeholder name are reported',
  )
  t.same(errorsAfter([at('window', 'cron'), '0 25 * * *']), [
    'flows[3].window.cron: invalid cron expression: CronPattern: Invalid value for hour: 25',
  ])
  t.same(errorsAfter([at('window', 'timezone'), 'Mars/Olympus']), [
    'flows[3].window.timezone: unknown time zone "Mars/Olympus" (use an IANA name like Europe/Berlin)',
  ])
  t.same(errorsAfter([at('outboundMessages', 'secret'), 'too-short']), [
    'flows[3].outboundMessages.secret: must NOT have fewer than 16 characters',
  ])
  t.same(errorsAfter([at('outboundMessages', 'organizationIds'), ['00Dnotanorg']]), [
    'flows[3].outboundMessages.organizationIds[0]: must match pattern "^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$"',
  ])
  t.same(errorsAfter([at('manifest', 'recordFields'), ['Name', 'Account..Name', 'Account.', 'Owner.Name']]), [
    'flows[3].manifest.recordFields[1]: "Account..Name" is not a field API name (Field or Parent.Field)',
    'flows[3].manifest.recordFields[2]: "Account." is not a field API name (Field or Parent.Field)',
  ])
  t.same(errorsAfter([at('manifest', 'recordFields'), ['Account Name']]), [
    'flows[3].manifest.recordFields[0]: must match pattern "^[A-Za-z][A-Za-z0-9_.]*$"',
  ])
  t.same(errorsAfter([at('retry'), { baseDelayMs: 5000, maxDelayMs: 1000 }]), [
    'flows[3].retry.baseDelayMs: must not exceed maxDelayMs (1000)',
  ])
  t.same(errorsAfter([at('name'), 'bank-statements']), [
    'flows[3].name: duplicate flow name "bank-statements" (also flows[2])',
  ])
})

t.test('outbound flows: the checks tolerate what the schema rejects', async (t) => {
  const at = (...path: Segment[]): Segment[] => ['flows', OUT, ...path]
  t.same(errorsAfter([at('destination'), 'sftp://bank']), ['flows[3].destination: must be object'])
  t.same(errorsAfter([at('window'), ['0 18 * * *']]), ['flows[3].window: must be object'])
  t.same(errorsAfter([at('writeBack', 'onSuccess'), 'Delivered']), [
    'flows[3].writeBack.onSuccess: must be object',
  ])
  t.same(errorsAfter([at('manifest', 'recordFields'), 'Name']), [
    'flows[3].manifest.recordFields: must be array',
  ])
  t.same(errorsAfter([at('destination', 'fileName'), 42]), ['flows[3].destination.fileName: must be string'])
  t.same(
    errorsAfter([at('kind'), 'sideways']),
    ['flows[3].kind: must be one of "inbound", "outbound", "status"'],
    'an unknown kind is reported once, by the schema',
  )
  const asOutbound = errorsAfter([['flows', 0, 'kind'], 'outbound'])
  t.ok(
    asOutbound.includes('flows[0].destination: required') &&
      asOutbound.includes('flows[0].source.object: required') &&
      !asOutbound.some((line) => line.includes('processedDirectory')),
    'an inbound flow marked outbound is validated and checked as outbound only',
  )
  const asInbound = errorsAfter(
    [at('kind'), 'inbound'],
    [at('destination', 'fileName'), '{bogus placeholder}'],
  )
  t.ok(
    asInbound.includes('flows[3].match: required') && !asInbound.some((line) => line.includes('placeholder')),
    'an outbound flow marked inbound is validated and checked as inbound only',
  )
})

t.test('all problems are reported together in one ConfigError', async (t) => {
  const data = fixtureData()
  setAt(data, ['server', 'prot'], 1)
  setAt(data, ['endpoints', 'partner-sftp', 'port'], 0)
  setAt(data, ['flows', 2, 'source', 'endpoint'], 'nowhere')
  const error = t.throws(() => parseConfig(stringify(data), 'yaml', env)) as ConfigError
  t.ok(error instanceof ConfigError)
  t.ok(isBridgeError(error))
  t.equal(error.code, 'CONFIG_INVALID')
  t.equal(error.name, 'ConfigError')
  t.same(error.issues, [
    { path: 'server.prot', message: 'unknown key' },
    { path: 'endpoints.partner-sftp.port', message: 'must be >= 1' },
    {
      path: 'flows[2].source.endpoint',
      message: 'unknown endpoint "nowhere" (configured: partner-sftp, scanner-ftp, bank-ftps, bank-sftp)',
    },
  ])
  t.equal(error.message.split('\n').length, 4, 'a heading and one line per issue')
  t.same(error.details, { issues: error.issues })
})

t.test('loadConfig reports a file it cannot read', async (t) => {
  const missing = join(tmpdir(), 'bridge-config-does-not-exist.yaml')
  await t.rejects(loadConfig(missing, env), {
    code: 'CONFIG_INVALID',
    issues: [{ path: '', message: new RegExp(`^cannot read ${missing}: ENOENT`) }],
  })
})

t.test('redactConfig hides secrets and nothing else', async (t) => {
  const data = fixtureData()
  setAt(data, ['endpoints', 'scanner-ftp', 'password'], '${SCANNER_FTP_PASSWORD}')
  setAt(data, ['salesforce', 'auth'], {
    type: 'jwt',
    clientId: 'cid',
    username: 'u@x',
    privateKey: '${SF_KEY}',
  })
  const config = parseConfig(stringify(data), 'yaml', { ...env, SF_KEY: 'PEM' })
  const before = JSON.stringify(config)
  const redacted = redactConfig(config)

  t.equal(JSON.stringify(config), before, 'the original is untouched')
  t.same(redacted.server.apiKeys, [REDACTED], 'each key is hidden, the count stays visible')
  t.same(redacted.salesforce.auth, { type: 'jwt', clientId: 'cid', username: 'u@x', privateKey: REDACTED })
  t.match(redacted.endpoints['partner-sftp'], {
    privateKey: REDACTED,
    passphrase: REDACTED,
    hostKeySha256: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
    username: 'acme',
  })
  t.notOk('password' in redacted.endpoints['partner-sftp']!, 'an absent secret stays absent')
  t.equal(redacted.endpoints['scanner-ftp']?.password, REDACTED)
  t.equal(redacted.endpoints['bank-ftps']?.password, REDACTED)
  t.equal(
    redacted.endpoints['bank-ftps']?.tls.ca,
    config.endpoints['bank-ftps']?.tls.ca,
    'tls.ca is not a secret',
  )
  t.notMatch(
    JSON.stringify(redacted),
    /example-client-secret|scanner-pass|bank-pass|correct horse|PRIVATE KEY/,
  )
  t.same(inboundFlows(redacted), inboundFlows(config), 'inbound flows hold no secrets')
  t.same(outboundFlows(redacted)[0]?.outboundMessages, {
    organizationIds: ['00D5g000004ABCDEAZ'],
    secret: REDACTED,
  })
  t.same(
    { ...outboundFlows(redacted)[0], outboundMessages: undefined },
    { ...outboundFlows(config)[0], outboundMessages: undefined },
    'the rest of the outbound flow is shown as it is',
  )
  t.notMatch(JSON.stringify(redacted), new RegExp(env.OM_SECRET as string))

  const clientCredentials = redactConfig(parseConfig(fixtureText, 'yaml', env))
  t.same(clientCredentials.salesforce.auth, {
    type: 'client_credentials',
    clientId: env.SF_CLIENT_ID,
    clientSecret: REDACTED,
  })
})

t.test('redactConfig keeps the PostgreSQL URL but hides its password', async (t) => {
  const data = fixtureData()
  setAt(
    data,
    ['store', 'postgresUrl'],
    'postgres://bridge:${PG_PASSWORD}@db.internal:5432/bridge?sslmode=require',
  )
  const config = parseConfig(stringify(data), 'yaml', { ...env, PG_PASSWORD: 's3cr/et@pg' })
  t.equal(config.store.postgresUrl, 'postgres://bridge:s3cr/et@pg@db.internal:5432/bridge?sslmode=require')
  t.equal(
    redactConfig(config).store.postgresUrl,
    `postgres://bridge:${REDACTED}@db.internal:5432/bridge?sslmode=require`,
  )

  const inQuery = fixtureData()
  setAt(inQuery, ['store', 'postgresUrl'], 'postgresql://bridge@db/bridge?password=hunter2&sslmode=require')
  t.equal(
    redactConfig(parseConfig(stringify(inQuery), 'yaml', env)).store.postgresUrl,
    `postgresql://bridge@db/bridge?password=${REDACTED}&sslmode=require`,
    'a password given as a query parameter is hidden too',
  )

  const noPassword = fixtureData()
  setAt(noPassword, ['store', 'postgresUrl'], 'postgres://postgres@127.0.0.1:5432/test')
  t.equal(
    redactConfig(parseConfig(stringify(noPassword), 'yaml', env)).store.postgresUrl,
    'postgres://postgres@127.0.0.1:5432/test',
    'a URL without a password is shown as it is',
  )

  const mysql = fixtureData()
  setAt(mysql, ['store', 'postgresUrl'], 'mysql://root:pw@db/bridge')
  t.throws(() => parseConfig(stringify(mysql), 'yaml', env), {
    code: 'CONFIG_INVALID',
    issues: [{ path: 'store.postgresUrl' }],
  })
})

t.test('review and status flows: checks beyond the schema', async (t) => {
  const withFlows = (...flows: Record<string, unknown>[]): string[] => {
    const data = fixtureData()
    data.flows = [...(data.flows as unknown[]), ...flows]
    return issuesFor(stringify(data)).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
  }
  const inbound = (fixtureData().flows as Record<string, any>[])[0] as Record<string, any>
  const reviewed = (review: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    ...inbound,
    name: 'reviewed',
    review,
    ...extra,
  })
  const n = (fixtureData().flows as unknown[]).length
  t.same(withFlows(reviewed({ dropZone: { directory: '/rejected/{record.id}' } })), [], 'a valid review')
  t.same(withFlows(reviewed({ dropZone: { directory: '/rejected/{Name}', fileName: '{file.base}' } })), [
    `flows[${n}].review.dropZone.directory: unknown placeholder {Name} (known: {correlationId}, {reason}, {reasonCode}, {file.name}, {file.id}, {record.id}, {now}, {flow})`,
    `flows[${n}].review.dropZone.fileName: unknown placeholder {file.base} (known: {file.name}, {file.stem}, {file.ext}, {correlationId})`,
  ])
  t.same(
    withFlows(
      reviewed(
        { dropZone: { directory: `${inbound.source.directory}/rejected` } },
        { source: { ...inbound.source, recursive: true } },
      ),
    ),
    [
      `flows[${n}].review.dropZone.directory: must not be a folder the flow reads (${inbound.source.directory}, recursive): returned files would be taken in again`,
    ],
  )
  t.same(
    withFlows(reviewed({ dropZone: { directory: '/r', endpoint: 'nowhere' } })).map((e) => e.split(' (')[0]),
    [`flows[${n}].review.dropZone.endpoint: unknown endpoint "nowhere"`],
  )

  const status = (extra: Record<string, unknown> = {}) => ({
    name: 'erp',
    kind: 'status',
    source: { endpoint: 'scanner-ftp', directory: '/status' },
    format: { type: 'csv' },
    object: 'Order',
    key: { column: 'OrderNumber', by: 'externalId', field: 'OrderNumber' },
    fields: { Status: { type: 'picklist', values: ['Shipped'] } },
    after: { success: 'move', processedDirectory: '/status/done', errorDirectory: '/status/errors' },
    ...extra,
  })
  t.same(withFlows(status()), [], 'a valid status flow')
  t.same(withFlows(status({ key: { column: 'OrderNumber', by: 'externalId' } })), [
    `flows[${n}].key.field: required when key.by is "externalId" (the field looked up)`,
  ])
  t.same(
    withFlows(
      status({
        fields: {
          Status: { type: 'picklist' },
          Amount__c: { type: 'number', values: ['1'], column: 'OrderNumber' },
          Id: { type: 'string' },
        },
        after: { success: 'move', errorDirectory: '/e' },
      }),
    ),
    [
      `flows[${n}].after.processedDirectory: required when after.success is "move"`,
      `flows[${n}].fields.Status.values: required for a picklist field`,
      `flows[${n}].fields.Amount__c.column: column "OrderNumber" is already used by key.column`,
      `flows[${n}].fields.Amount__c.values: only used by picklist fields`,
      `flows[${n}].fields.Id: the record Id cannot be set; it is what key names`,
    ],
  )
  t.match(withFlows(status({ format: { type: 'tsv' } })), [/flows\[\d+\]\.format\.type/])
  t.match(withFlows(status({ fields: {} })), [/flows\[\d+\]\.fields: must NOT have fewer than 1 properties/])
})

t.test('sdrive.completionWaitMs: hostile values are refused naming the key', async (t) => {
  for (const [value, message] of [
    [-1, 'must be >= 0'],
    [2_147_483_648, 'must be <= 600000'],
    ['2s', 'must be integer'],
    [1.5, 'must be integer'],
    [{ ms: 1 }, 'must be integer'],
  ] as const) {
    t.match(
      errorsAfter([['sdrive', 'completionWaitMs'], value])[0],
      `sdrive.completionWaitMs: ${message}`,
      String(value),
    )
  }
  t.same(errorsAfter([['sdrive', 'completionWaitMs'], 0]), [], '0: every batch completes on its own')
})
