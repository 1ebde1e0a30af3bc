/**
 * The Salesforce kit in salesforce/ cannot be deployed here, so this test
 * holds it to the API instead: every path the Apex class calls, every JSON
 * field it sends or reads, every header it sets and every status it handles
 * must exist in openapi/openapi.json for that operation; the Apex test's mock
 * answers must be valid answers of that operation; and the metadata files
 * must be well-formed XML that name each other consistently (Named
 * Credential → External Credential → principal → permission set, and the
 * `$Credential` formula of the header).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApexErrorListener, ApexParserFactory } from '@apexdevtools/apex-parser'
import { Ajv } from 'ajv'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import t from 'tap'

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const kit = join(repo, 'salesforce')
const source = join(kit, 'force-app', 'main', 'default')
const read = (path: string): string => readFileSync(path, 'utf8')

const doc = JSON.parse(read(join(repo, 'openapi', 'openapi.json'))) as Json
const paths = doc.paths as Record<string, Json>
const components = doc.components as Json

function resolve(schema: unknown): Json {
  if (!isObject(schema)) throw new Error(`not a schema: ${JSON.stringify(schema)}`)
  if (typeof schema.$ref !== 'string') return schema
  const name = schema.$ref.replace('#/components/schemas/', '')
  return resolve((components.schemas as Json)[name])
}
const propertiesOf = (schema: Json): string[] => Object.keys((schema.properties ?? {}) as Json)

/** Apex source without comments; string literals (which may hold `//`) are kept. */
function withoutComments(apex: string): string {
  let out = ''
  let i = 0
  while (i < apex.length) {
    const c = apex[i]
    if (c === "'") {
      let j = i + 1
      while (j < apex.length && apex[j] !== "'") j += apex[j] === '\\' ? 2 : 1
      out += apex.slice(i, j + 1)
      i = j + 1
    } else if (apex.startsWith('//', i)) {
      while (i < apex.length && apex[i] !== '\n') i++
    } else if (apex.startsWith('/*', i)) {
      const end = apex.indexOf('*/', i + 2)
      i = end === -1 ? apex.length : end + 2
    } else {
      out += c
      i++
    }
  }
  return out
}

const all = (text: string, re: RegExp): RegExpExecArray[] => [...text.matchAll(re)]
const unique = <T>(items: T[]): T[] => [...new Set(items)]

const classesDir = join(source, 'classes')
const apexFiles = readdirSync(classesDir).filter((f) => f.endsWith('.cls'))
const apexText = (name: string): string => withoutComments(read(join(classesDir, name)))
const mainFile = apexFiles.find((f) => /@InvocableMethod\b/.test(apexText(f)))
if (mainFile === undefined) throw new Error('no class with an @InvocableMethod in salesforce/')
const mainClass = basename(mainFile, '.cls')
const apex = apexText(mainFile)
const testFile = apexFiles.find((f) => f !== mainFile && apexText(f).includes(`${mainClass}.`))
if (testFile === undefined) throw new Error(`no Apex test class for ${mainClass}`)
const apexTest = apexText(testFile)

const callouts = all(apex, /'callout:(\w+)(\/[^'?]*)/g).map((m) => ({ credential: m[1]!, path: m[2]! }))
const methods = unique(all(apex, /\.setMethod\('([A-Za-z]+)'\)/g).map((m) => m[1]!.toLowerCase()))

/** The single operation the class calls (path × method). */
function operation(): Json {
  const [call] = callouts
  const [method] = methods
  if (call === undefined || method === undefined) throw new Error('no callout path or method found')
  const op = paths[call.path]?.[method]
  if (!isObject(op)) throw new Error(`${method.toUpperCase()} ${call.path} is not in openapi.json`)
  return op
}
const responseSchema = (op: Json, status: string): Json => {
  const response = (op.responses as Json)[status]
  if (!isObject(response)) throw new Error(`status ${status} is not declared`)
  return resolve(((response.content as Json)['application/json'] as Json).schema)
}

t.test('the Apex class calls only paths and methods of openapi.json', async (t) => {
  t.ok(callouts.length > 0, 'the class makes callouts through a Named Credential')
  t.equal(methods.length, 1, 'one HTTP method')
  for (const call of callouts) {
    const item = paths[call.path]
    t.ok(isObject(item), `${call.path} exists`)
    for (const method of methods)
      t.ok(isObject(item?.[method]), `${method.toUpperCase()} ${call.path} exists`)
  }
  t.equal(unique(callouts.map((c) => c.credential)).length, 1, 'one Named Credential')
  t.equal(operation().operationId, 'createExport')
})

t.test('statuses the class handles are declared answers of the operation', async (t) => {
  const op = operation()
  const handled = unique(all(apex, /status\s*==\s*(\d{3})/g).map((m) => m[1]!))
  t.same(handled, ['202', '429'], 'the class tells 202 from a full queue (retried) and everything else')
  for (const status of handled) t.ok(isObject((op.responses as Json)[status]), `${status} declared`)
})

t.test(
  'the request body uses exactly ExportRequest field names, from the same-named variables',
  async (t) => {
    const content = ((operation().requestBody as Json).content as Json)['application/json'] as Json
    const schema = resolve(content.schema)
    t.equal(schema.title, 'ExportRequest')
    const literalKeys = all(apex, /'(\w+)'\s*=>/g).map((m) => m[1]!)
    const putCalls = all(apex, /(\w+)\.put\('(\w+)'/g)
    t.same(unique(putCalls.map((m) => m[1]!)), ['body'], 'only the request body is built with put')
    const fields = unique([...literalKeys, ...putCalls.map((m) => m[2]!)])
    const allowed = propertiesOf(schema)
    for (const field of fields) t.ok(allowed.includes(field), `${field} is an ExportRequest property`)
    for (const required of (schema.required ?? []) as string[]) {
      t.ok(literalKeys.includes(required), `required ${required} is always sent`)
    }
    // Each body field is filled from the Request variable of the same name.
    const sources = [
      ...all(apex, /'(\w+)'\s*=>\s*request\.(\w+)/g),
      ...all(apex, /\.put\('(\w+)',\s*request\.(\w+)\)/g),
    ]
    t.equal(sources.length, fields.length, 'every body field comes from the request')
    for (const m of sources) t.equal(m[2], m[1], `${m[1]} ← request.${m[2]}`)
    const invocable = all(apex, /@InvocableVariable\([^)]*\)\s*public\s+[\w<>]+\s+(\w+)\s*;/g).map(
      (m) => m[1]!,
    )
    for (const field of fields) t.ok(invocable.includes(field), `${field} is an @InvocableVariable`)
    t.match(apex, /JSON\.serialize\(body\)/, 'the body is JSON')
  },
)

t.test('fields read from the answer exist in ExportAccepted / ErrorResponse', async (t) => {
  const op = operation()
  const accepted = responseSchema(op, '202')
  const error = responseSchema(op, '400')
  t.equal(accepted.title, 'ExportAccepted')
  t.equal(error.title, 'ErrorResponse')
  const errorDetail = resolve((error.properties as Json).error)
  const allowed: Record<string, string[]> = {
    answer: [...propertiesOf(accepted), ...propertiesOf(error)],
    detail: propertiesOf(errorDetail),
  }
  const reads = all(apex, /(\w+)\.get\('(\w+)'\)/g)
  t.ok(reads.length >= 5, 'the class reads jobId, statusUrl, state, error.code and error.message')
  for (const [, receiver, field] of reads) {
    t.ok(allowed[receiver!]?.includes(field!), `${receiver}.get('${field}') is in the schema`)
  }
  // Every non-202 status the operation declares carries ErrorResponse, which the class reads.
  for (const status of Object.keys(op.responses as Json).filter((s) => s !== '202')) {
    t.equal(responseSchema(op, status).title, 'ErrorResponse', `${status} answers ErrorResponse`)
  }
})

t.test('headers the class sets are declared by the operation', async (t) => {
  const op = operation()
  const declared = ((op.parameters ?? []) as Json[])
    .filter((p) => p.in === 'header')
    .map((p) => String(p.name).toLowerCase())
  const headers = all(apex, /\.setHeader\('([^']+)',\s*([^)]+)\)/g)
  t.ok(headers.length >= 2)
  for (const [, name, value] of headers) {
    if (name!.toLowerCase() === 'content-type') {
      const type = value!.replace(/'/g, '').trim()
      t.ok(isObject(((op.requestBody as Json).content as Json)[type]), `Content-Type ${type} is accepted`)
    } else {
      t.ok(declared.includes(name!.toLowerCase()), `${name} is a declared header parameter`)
    }
  }
  t.ok(
    headers.some(([, name]) => name!.toLowerCase() === 'idempotency-key'),
    'Idempotency-Key is sent',
  )
})

t.test('callout limits: Queueable with callouts, 30 s timeout, ≤ 100 requests per job', async (t) => {
  t.match(apex, /class\s+\w+\s+implements\s+Queueable,\s*Database\.AllowsCallouts/)
  t.match(apex, /@InvocableMethod\([^)]*label='Export S-Drive files to FTP'[^)]*callout=true/)
  t.match(apex, /System\.enqueueJob\(/)
  t.match(apex, /TIMEOUT_MS\s*=\s*10000;/, 'one callout waits at most 10 s')
  t.match(apex, /\.setTimeout\(TIMEOUT_MS\)/)
  t.match(apex, /CALLOUT_BUDGET_MS\s*=\s*60000;/, 'a job spends at most 60 s of the 120 s a transaction has')
  t.match(apex, /System\.currentTimeMillis\(\) - started >= CALLOUT_BUDGET_MS/)
  t.match(apex, /MAX_REQUESTS_PER_JOB\s*=\s*100;/)
})

t.test('retries: a Transaction Finalizer re-enqueues with backoff, up to MAX_ATTEMPTS', async (t) => {
  t.match(apex, /class\s+RetryFinalizer\s+implements\s+Finalizer/)
  t.match(apex, /System\.attachFinalizer\(finalizer\)/)
  t.match(apex, /MAX_ATTEMPTS\s*=\s*5;/)
  t.match(apex, /System\.enqueueJob\(new CalloutJob\(retry, attempt \+ 1\), lastRetryDelayMinutes\)/)
  t.match(apex, /attempt < MAX_ATTEMPTS/)
  t.match(
    apex,
    /upsert [\w.()]+ SDrive_Export_Request__c\.Idempotency_Key__c;/,
    'the request record is keyed by its key',
  )
  for (const name of [
    'aFullQueue429IsRetriedByTheFinalizerWithBackoff',
    'theLastAttemptGivesUpAndRecordsFailed',
    'anUnreachableBridgeCostsOneCalloutAndEveryRequestIsRetried',
    'backoffDoublesUpToTenMinutes',
  ]) {
    t.match(apexTest, new RegExp(`@IsTest\\s+static void ${name}\\(\\)`), `Apex test ${name}`)
  }
})

t.test('the Apex test mocks answers that the API can give, and asserts what the class sends', async (t) => {
  const op = operation()
  const ajv = new Ajv({ strict: false, allErrors: true })
  ajv.addSchema({ components }, 'openapi.json')
  const mocks = all(apexTest, /new BridgeMock\(\s*(\d{3}),\s*'((?:[^'\\]|\\.)*)'\s*\)/g)
  t.same(
    unique(mocks.map((m) => m[1]!)).sort(),
    ['202', '400', '409', '429'],
    '202, 409, 400 and 429 are tested',
  )
  for (const [, status, body] of mocks) {
    const response = (op.responses as Json)[status!]
    t.ok(isObject(response), `${status} is declared`)
    const schema = ((response as Json).content as Json)['application/json'] as Json
    const validate = ajv.compile({ $ref: `openapi.json${String((schema.schema as Json).$ref)}` })
    const answer: unknown = JSON.parse(body!.replace(/\\'/g, "'"))
    t.ok(validate(answer), `mock ${status} body is valid: ${ajv.errorsText(validate.errors)}`)
  }
  const [call] = callouts
  t.match(apexTest, `'callout:${call!.credential}${call!.path}'`, 'the test asserts the endpoint')
  t.match(apexTest, /getMethod\(\)/)
  for (const [, name] of all(apex, /\.setHeader\('([^']+)'/g)) {
    t.match(apexTest, `getHeader('${name}')`, `the test asserts the ${name} header`)
  }
  const asserted = all(apexTest, /new Set<String>\{([^}]*)\}/g)
    .flatMap((m) => all(m[1]!, /'(\w+)'/g))
    .map((m) => m[1]!)
  const sent = unique([...all(apex, /'(\w+)'\s*=>/g), ...all(apex, /\.put\('(\w+)'/g)].map((m) => m[1]!))
  t.same([...asserted].sort(), [...sent].sort(), 'the test asserts exactly the body fields the class sends')
  t.match(apexTest, /Test\.startTest\(\);[\s\S]*exportFiles\([\s\S]*Test\.stopTest\(\)/)
})

// ---- metadata ----

const parser = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  isArray: (name) =>
    [
      'externalCredentialParameters',
      'namedCredentialParameters',
      'externalCredentialPrincipalAccesses',
      'classAccesses',
      'fieldPermissions',
      'objectPermissions',
      'userPermissions',
      'inputAssignments',
      'filters',
    ].includes(name),
})
const METADATA_NS = 'http://soap.sforce.com/2006/04/metadata'
const TYPES: Record<string, { folder: string; root: string }> = {
  '.cls-meta.xml': { folder: 'classes', root: 'ApexClass' },
  '.externalCredential-meta.xml': { folder: 'externalCredentials', root: 'ExternalCredential' },
  '.namedCredential-meta.xml': { folder: 'namedCredentials', root: 'NamedCredential' },
  '.permissionset-meta.xml': { folder: 'permissionsets', root: 'PermissionSet' },
  '.object-meta.xml': { folder: 'objects', root: 'CustomObject' },
  '.field-meta.xml': { folder: 'fields', root: 'CustomField' },
  '.flow-meta.xml': { folder: 'flows', root: 'Flow' },
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

/** The permission set of the users who run the Flow action, and the one of the bridge's run-as user. */
const USER_PERMISSION_SET = 'Sdrive_Ftp_Bridge_User'
const INTEGRATION_PERMISSION_SET = 'Sdrive_Ftp_Bridge_Integration'

/** The component of a type (the one with that API name, or the only one): its API name and parsed root element. */
function component(suffix: string, name?: string): { name: string; root: Json } {
  const type = TYPES[suffix]!
  const files = readdirSync(join(source, type.folder)).filter(
    (f) => f.endsWith(suffix) && (name === undefined || f === `${name}${suffix}`),
  )
  if (files.length !== 1) throw new Error(`expected one ${name ?? ''}${suffix}, found ${files.length}`)
  const file = files[0]!
  return {
    name: file.slice(0, -suffix.length),
    root: parser.parse(read(join(source, type.folder, file)))[type.root] as Json,
  }
}

t.test('every metadata file is well-formed XML of the type its name says', async (t) => {
  const files = filesUnder(source).filter((f) => f.endsWith('-meta.xml'))
  t.ok(files.length >= 5)
  for (const file of files) {
    const where = relative(kit, file)
    const text = read(file)
    t.equal(XMLValidator.validate(text), true, `${where} is well-formed`)
    const suffix = Object.keys(TYPES).find((s) => file.endsWith(s))
    t.ok(suffix, `${where} is a known metadata type`)
    if (suffix === undefined) continue
    const folder = TYPES[suffix]!.folder
    const parent = basename(dirname(file))
    // Objects live in objects/<Object>/, their fields in objects/<Object>/fields/.
    const inFolder =
      suffix === '.object-meta.xml' ? basename(dirname(dirname(file))) === folder : parent === folder
    t.ok(inFolder, `${where} is in its type's folder`)
    const root = parser.parse(text)[TYPES[suffix]!.root] as Json | undefined
    t.ok(isObject(root), `${where} has root <${TYPES[suffix]!.root}>`)
    t.equal(root?.['@_xmlns'], METADATA_NS, `${where} is in the metadata namespace`)
  }
})

t.test('sfdx-project.json, classes and their -meta.xml agree on the API version', async (t) => {
  const project = JSON.parse(read(join(kit, 'sfdx-project.json'))) as Json
  const dirs = (project.packageDirectories as Json[]).map((d) => d.path)
  t.same(dirs, ['force-app'])
  t.ok(statSync(join(kit, 'force-app')).isDirectory())
  t.equal(project.sourceApiVersion, '63.0')
  for (const file of apexFiles) {
    const meta = parser.parse(read(join(classesDir, `${file}-meta.xml`))).ApexClass as Json
    t.equal(meta.apiVersion, '63.0', `${file} apiVersion`)
    t.equal(meta.status, 'Active', `${file} status`)
  }
  t.match(apexTest, /^\s*@IsTest\s+private class/, 'the test class is @IsTest')
})

t.test('Named Credential, External Credential, principal and permission set name each other', async (t) => {
  const ec = component('.externalCredential-meta.xml')
  const nc = component('.namedCredential-meta.xml')
  const ps = component('.permissionset-meta.xml', USER_PERMISSION_SET)

  // Apex → Named Credential
  t.same(unique(callouts.map((c) => c.credential)), [nc.name], 'Apex calls callout:<the Named Credential>')

  // Named Credential → External Credential
  t.equal(nc.root.namedCredentialType, 'SecuredEndpoint')
  t.equal(nc.root.generateAuthorizationHeader, 'false', 'the External Credential header carries the key')
  t.equal(nc.root.allowMergeFieldsInHeader, 'true')
  const ncParams = nc.root.namedCredentialParameters as Json[]
  const url = ncParams.find((p) => p.parameterType === 'Url')
  t.match(String(url?.parameterValue), /^https:\/\/[^/]+$/, 'an https base URL without a path')
  const auth = ncParams.filter((p) => p.parameterType === 'Authentication')
  t.equal(auth.length, 1)
  t.equal(auth[0]?.externalCredential, ec.name, 'the Named Credential uses the External Credential')

  // External Credential: Custom protocol, one named principal, the Authorization header formula
  t.equal(ec.root.authenticationProtocol, 'Custom')
  const ecParams = ec.root.externalCredentialParameters as Json[]
  const principals = ecParams.filter((p) => p.parameterType === 'NamedPrincipal')
  t.equal(principals.length, 1, 'one named principal')
  const principal = String(principals[0]?.parameterName)
  const headers = ecParams.filter((p) => p.parameterType === 'AuthHeader')
  t.same(
    headers.map((h) => h.parameterName),
    ['Authorization'],
  )
  const formula = /^Bearer \{!\$Credential\.(\w+)\.(\w+)\}$/.exec(String(headers[0]?.parameterValue))
  t.ok(formula, 'Authorization: Bearer {!$Credential.<EC>.<parameter>}')
  t.equal(formula?.[1], ec.name, 'the formula names this External Credential')
  t.equal(formula?.[2], 'apiKey', 'the formula reads the apiKey authentication parameter')

  // The API expects that header: an http bearer scheme required by the operation.
  const schemes = components.securitySchemes as Record<string, Json>
  const required = ((operation().security ?? doc.security ?? []) as Json[]).flatMap((s) => Object.keys(s))
  t.ok(
    required.some((name) => schemes[name]?.type === 'http' && schemes[name]?.scheme === 'bearer'),
    'POST /v1/exports requires Authorization: Bearer',
  )

  // Permission set → principal and class
  const accesses = ps.root.externalCredentialPrincipalAccesses as Json[]
  t.same(
    accesses.map((a) => [a.externalCredentialPrincipal, a.enabled]),
    [[`${ec.name}-${principal}`, 'true']],
    'the permission set enables <External Credential>-<principal>',
  )
  const classes = (ps.root.classAccesses as Json[]).map((c) => [c.apexClass, c.enabled])
  t.same(classes, [[mainClass, 'true']], 'the permission set grants the invocable class')
})

t.test('docs/salesforce-setup.md names the kit and only API paths that exist', async (t) => {
  // The SOAP listener is a route but hidden from openapi.json (External Services cannot import it).
  const routes = readdirSync(join(repo, 'routes'))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => all(read(join(repo, 'routes', f)), /'(\/v1\/[^']*)'/g).map((m) => m[1]!))
  const setup = read(join(repo, 'docs', 'salesforce-setup.md'))
  const ec = component('.externalCredential-meta.xml')
  const nc = component('.namedCredential-meta.xml')
  const ps = component('.permissionset-meta.xml', USER_PERMISSION_SET)
  for (const name of [ec.name, nc.name, ps.name, mainClass, 'apiKey']) {
    t.ok(setup.includes(name), `mentions ${name}`)
  }
  const shape = (p: string) => p.replace(/\{[^}]+\}|<[^>]+>|:\w+/g, '*')
  const known = new Set([...Object.keys(paths), ...routes].map(shape))
  const mentioned = unique(all(setup, /\/v1\/[\w\-/{}<>]*[\w}>]/g).map((m) => m[0]))
  t.ok(mentioned.length > 0)
  for (const path of mentioned) t.ok(known.has(shape(path)), `${path} is an API path`)
})

/** The access table of docs/connecting-your-org.md: rows of backticked object names, access words and field names. */
function documentedAccess(): { objects: Map<string, string[]>; fields: Map<string, boolean> } {
  const page = read(join(repo, 'docs', 'connecting-your-org.md'))
  const objects = new Map<string, string[]>()
  const fields = new Map<string, boolean>()
  const names = (cell: string) => all(cell, /`([A-Za-z_][\w]*)`/g).map((m) => m[1]!)
  for (const row of page.split('\n').filter((line) => line.startsWith('| `'))) {
    const [objectCell = '', accessCell = '', editCell = '', readCell = ''] = row.split('|').slice(1)
    const access = accessCell.split(',').map((a) => a.trim())
    for (const object of names(objectCell)) {
      objects.set(object, access)
      for (const field of names(editCell)) fields.set(`${object}.${field}`, true)
      for (const field of names(readCell)) fields.set(`${object}.${field}`, false)
    }
  }
  return { objects, fields }
}

t.test('the integration permission set grants exactly what docs/connecting-your-org.md lists', async (t) => {
  const ps = component('.permissionset-meta.xml', INTEGRATION_PERMISSION_SET)
  const documented = documentedAccess()
  t.ok(documented.objects.size >= 8, 'the page lists the objects')
  const granted = new Map(
    (ps.root.objectPermissions as Json[]).map((o) => {
      const words = [
        ['allowRead', 'Read'],
        ['allowCreate', 'Create'],
        ['allowEdit', 'Edit'],
        ['allowDelete', 'Delete'],
      ]
        .filter(([key]) => o[key as string] === 'true')
        .map(([, word]) => word as string)
      t.equal(o.modifyAllRecords, 'false', `${o.object}: no Modify All`)
      t.equal(o.viewAllRecords, 'false', `${o.object}: no View All`)
      return [String(o.object), words] as const
    }),
  )
  t.same(Object.fromEntries(granted), Object.fromEntries(documented.objects), 'object access as documented')
  const fields = new Map(
    (ps.root.fieldPermissions as Json[]).map((f) => {
      t.equal(f.readable, 'true', `${f.field} readable`)
      return [String(f.field), f.editable === 'true'] as const
    }),
  )
  t.same(Object.fromEntries(fields), Object.fromEntries(documented.fields), 'field access as documented')
  for (const field of fields.keys()) {
    t.ok(granted.has(field.split('.')[0]!), `${field} is on an object the set grants`)
    t.notMatch(field, /File_Size__c$/, 'no formula field (it cannot be granted edit)')
  }
  t.same(
    (ps.root.userPermissions as Json[]).map((u) => [u.name, u.enabled]),
    [['ApiEnabled', 'true']],
    'API access, nothing else',
  )
  t.notOk(ps.root.classAccesses, 'no Apex class: the bridge calls S-Drive, not the kit')
})

// ---- Apex syntax (a real parser) ----

/** Syntax errors of one Apex class or trigger, as line:column message. */
function apexSyntaxErrors(source: string, kind: 'class' | 'trigger'): string[] {
  const errors: string[] = []
  class Collect extends ApexErrorListener {
    apexSyntaxError(line: number, column: number, message: string): void {
      errors.push(`${line}:${column} ${message}`)
    }
  }
  const { parser } = ApexParserFactory.createLexerAndParser(source, new Collect())
  if (kind === 'trigger') parser.triggerUnit()
  else parser.compilationUnit()
  return errors
}

t.test('every Apex class and trigger of the kit parses (@apexdevtools/apex-parser)', async (t) => {
  const apexSources = filesUnder(source).filter((f) => f.endsWith('.cls') || f.endsWith('.trigger'))
  t.ok(apexSources.length >= 2, `${apexSources.length} Apex files`)
  for (const file of apexSources) {
    const kind = file.endsWith('.trigger') ? 'trigger' : 'class'
    t.same(apexSyntaxErrors(read(file), kind), [], `${relative(kit, file)} has no syntax error`)
    t.ok(statSync(`${file}-meta.xml`).isFile(), `${relative(kit, file)} has its -meta.xml`)
  }
})

t.test('the parser check fails a broken class and a broken trigger', async (t) => {
  const broken = apexText(mainFile).replace(
    'public static List<Result> exportFiles(',
    'public static List<Result> exportFiles((',
  )
  t.not(broken, apexText(mainFile))
  t.ok(apexSyntaxErrors(broken, 'class').length > 0, 'an extra parenthesis is a syntax error')
  t.ok(apexSyntaxErrors('public class Half { void f() { Integer x = ; } }', 'class').length > 0)
  t.same(apexSyntaxErrors('trigger T on Opportunity (after update) { System.debug(1); }', 'trigger'), [])
  t.ok(apexSyntaxErrors('trigger T on Opportunity (after update) { System.debug(1) }', 'trigger').length > 0)
})

// ---- the request object, the Platform Event and the example Flow ----

const fieldsOf = (object: string): string[] =>
  readdirSync(join(source, 'objects', object, 'fields')).map((f) => f.replace('.field-meta.xml', ''))

t.test(
  'SDrive_Export_Request__c has every field the class writes and the permission set grants',
  async (t) => {
    const fields = fieldsOf('SDrive_Export_Request__c')
    const written = unique(
      all(apex, /\b(\w+__c)\s*=/g)
        .map((m) => m[1]!)
        .filter((f) => f !== 'SDrive_Export_Request__c'),
    )
    t.ok(written.length >= 10, `${written.length} fields written`)
    for (const field of written) t.ok(fields.includes(field), `${field} exists`)
    const status = parser.parse(
      read(join(source, 'objects', 'SDrive_Export_Request__c', 'fields', 'Status__c.field-meta.xml')),
    ).CustomField as Json
    const values = ((((status.valueSet as Json).valueSetDefinition as Json).value ?? []) as Json[]).map((v) =>
      String(v.fullName),
    )
    const constants = all(apex, /STATUS_\w+ = '(\w+)'/g).map((m) => m[1]!)
    t.same(
      [...values].sort(),
      [...constants].sort(),
      'the picklist holds exactly the statuses the class writes',
    )
    const key = parser.parse(
      read(
        join(source, 'objects', 'SDrive_Export_Request__c', 'fields', 'Idempotency_Key__c.field-meta.xml'),
      ),
    ).CustomField as Json
    t.match(key, { externalId: 'true', unique: 'true' }, 'one row per Idempotency-Key (upsert)')
    const object = parser.parse(
      read(join(source, 'objects', 'SDrive_Export_Request__c', 'SDrive_Export_Request__c.object-meta.xml')),
    ).CustomObject as Json
    t.equal(object.enableReports, 'true', 'an admin can report on it')

    const user = component('.permissionset-meta.xml', USER_PERMISSION_SET).root
    const granted = ((user.fieldPermissions ?? []) as Json[]).map((f) => String(f.field))
    for (const field of fields)
      t.ok(granted.includes(`SDrive_Export_Request__c.${field}`), `${field} granted`)
    t.match(
      ((user.objectPermissions ?? []) as Json[]).find((o) => o.object === 'SDrive_Export_Request__c'),
      { allowRead: 'true', allowCreate: 'true', allowEdit: 'true' },
    )
    t.match(
      ((user.objectPermissions ?? []) as Json[]).find((o) => o.object === 'SDrive_Export__e'),
      {
        allowCreate: 'true',
      },
    )
  },
)

t.test('SDrive_Export__e is what the pubsub trigger reads, and the example Flow publishes it', async (t) => {
  const event = parser.parse(
    read(join(source, 'objects', 'SDrive_Export__e', 'SDrive_Export__e.object-meta.xml')),
  ).CustomObject as Json
  t.equal(event.eventType, 'HighVolume')
  t.equal(event.publishBehavior, 'PublishAfterCommit', 'published only when the record change commits')
  const fields = fieldsOf('SDrive_Export__e')
  t.ok(fields.includes('Record_Id__c'), "recordIdField: 'Record_Id__c'")
  t.ok(fields.includes('File_Id__c'), "fileIdField: 'File_Id__c'")
  const flow = parser.parse(read(join(source, 'flows', 'SDrive_Export_On_Closed_Won.flow-meta.xml')))
    .Flow as Json
  const start = flow.start as Json
  t.match(start, { triggerType: 'RecordAfterSave', object: 'Opportunity' }, 'a record-triggered Flow')
  const create = flow.recordCreates as Json
  t.equal(create.object, 'SDrive_Export__e', 'it publishes the event')
  const assigned = (create.inputAssignments as Json[]).map((a) => String(a.field))
  t.ok(assigned.includes('Record_Id__c'))
  for (const field of assigned) t.ok(fields.includes(field), `${field} is a field of the event`)
  t.equal(flow.apiVersion, '63.0')
})
