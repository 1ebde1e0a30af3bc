/**
 * Checks the JSON Schema cannot express: regexes compile and have the groups
 * the rule needs, names refer to things that exist, settings that only make
 * sense together. They run on data that may also have failed the schema, so
 * every access is guarded and a malformed part is skipped (the schema has
 * already reported it).
 */
import { Cron } from 'croner'
import { isNotificationEvent, NotificationEvents, parseDuration } from '../domain/notifications.js'
import { parsePlaceholders } from '../domain/placeholders.js'
import { checkFileFields, checkLookupList } from './file-field-checks.js'
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'
import { checkPollTrigger } from './trigger-poll-schema.js'
import { checkPubSubTrigger } from './trigger-pubsub-checks.js'

const fieldName = /^[A-Za-z][A-Za-z0-9_]*$/
const hostKeyFingerprint = /^SHA256:[A-Za-z0-9+/]{43}=?$/
const tlsOrder = ['TLSv1.2', 'TLSv1.3']

export function checkConfig(config: unknown): ConfigIssue[] {
  if (!isPlainObject(config)) return []
  const issues: ConfigIssue[] = []
  const endpoints = isPlainObject(config.endpoints) ? config.endpoints : {}
  for (const [name, endpoint] of Object.entries(endpoints)) {
    if (isPlainObject(endpoint)) checkEndpoint(endpoint, ['endpoints', name], issues)
  }
  const flows = Array.isArray(config.flows) ? config.flows : []
  const flowNames = new Map<string, number>()
  flows.forEach((flow, i) => {
    if (!isPlainObject(flow)) return
    const path = ['flows', i]
    if (typeof flow.name === 'string') {
      const first = flowNames.get(flow.name)
      if (first === undefined) flowNames.set(flow.name, i)
      else issues.push(issue([...path, 'name'], `duplicate flow name "${flow.name}" (also flows[${first}])`))
    }
    checkFlow(flow, path, Object.keys(endpoints), issues)
  })
  if (isPlainObject(config.notifications))
    checkNotifications(config.notifications, [...flowNames.keys()], issues)
  return issues
}

/** Rules name channels, flows and events that exist; `after` fits the events it is for. */
function checkNotifications(
  notifications: Record<string, unknown>,
  flowNames: string[],
  issues: ConfigIssue[],
): void {
  const channels = isPlainObject(notifications.channels) ? Object.keys(notifications.channels) : []
  const rules = Array.isArray(notifications.rules) ? notifications.rules : []
  rules.forEach((rule, i) => {
    if (!isPlainObject(rule)) return
    const path = ['notifications', 'rules', i]
    if (typeof rule.channel === 'string' && !channels.includes(rule.channel)) {
      const known = channels.length > 0 ? channels.join(', ') : 'none'
      issues.push(issue([...path, 'channel'], `unknown channel "${rule.channel}" (configured: ${known})`))
    }
    if (Array.isArray(rule.flows)) {
      rule.flows.forEach((flow, j) => {
        if (typeof flow === 'string' && flow !== '*' && !flowNames.includes(flow)) {
          issues.push(issue([...path, 'flows', j], `unknown flow "${flow}"`))
        }
      })
    }
    const events = Array.isArray(rule.on) ? rule.on : []
    events.forEach((event, j) => {
      if (!isNotificationEvent(event)) {
        issues.push(
          issue(
            [...path, 'on', j],
            `unknown event "${String(event)}" (known: ${NotificationEvents.join(', ')})`,
          ),
        )
      }
    })
    checkRuleAfter(rule.after, events, [...path, 'after'], issues)
  })
}

function checkRuleAfter(after: unknown, events: unknown[], path: KeyPath, issues: ConfigIssue[]): void {
  const watchdog = events.includes('flow.no_success')
  const unreachable = events.includes('endpoint.unreachable')
  if (watchdog && unreachable) {
    issues.push(
      issue(path, 'flow.no_success and endpoint.unreachable need different `after`s: give each its own rule'),
    )
  } else if (watchdog) {
    if (typeof after !== 'string' || parseDuration(after) === null) {
      issues.push(
        issue(
          path,
          `flow.no_success needs a duration such as "24h", "30m" or "7d", got ${JSON.stringify(after ?? null)}`,
        ),
      )
    }
  } else if (unreachable) {
    if (after !== undefined && typeof after !== 'number') {
      issues.push(
        issue(
          path,
          `endpoint.unreachable counts failed connects: a whole number such as 3, got ${JSON.stringify(after)}`,
        ),
      )
    }
  } else if (after !== undefined) {
    issues.push(issue(path, 'only for flow.no_success (a duration) and endpoint.unreachable (a count)'))
  }
}

/** hostKeySha256: one pin or a list of them (rotation), each as ssh-keygen -l prints it. */
function checkHostKeyPins(endpoint: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  const pins = endpoint.hostKeySha256
  const list = typeof pins === 'string' ? (pins === '' ? [] : [pins]) : Array.isArray(pins) ? pins : []
  if (list.length === 0 && endpoint.insecureSkipHostKeyCheck !== true) {
    issues.push(
      issue(
        [...path, 'hostKeySha256'],
        'required for sftp endpoints unless insecureSkipHostKeyCheck is true',
      ),
    )
    return
  }
  list.forEach((pin, index) => {
    if (typeof pin === 'string' && hostKeyFingerprint.test(pin)) return
    const at = typeof pins === 'string' ? [...path, 'hostKeySha256'] : [...path, 'hostKeySha256', index]
    issues.push(issue(at, 'must look like "SHA256:<43 base64 characters>" (ssh-keygen -l)'))
  })
}

function checkEndpoint(endpoint: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  const present = (key: string) => typeof endpoint[key] === 'string' && endpoint[key] !== ''
  if (endpoint.protocol === 'sftp') {
    checkHostKeyPins(endpoint, path, issues)
    if (!present('password') && !present('privateKey')) {
      issues.push(issue(path, 'password or privateKey is required'))
    }
  } else if (typeof endpoint.protocol === 'string') {
    if (endpoint.algorithms !== undefined)
      issues.push(issue([...path, 'algorithms'], 'SSH algorithms are for sftp endpoints only'))
    if (!present('password'))
      issues.push(issue([...path, 'password'], `required for ${endpoint.protocol} endpoints`))
    if (endpoint.privateKey !== undefined)
      issues.push(issue([...path, 'privateKey'], 'only used by sftp endpoints'))
  }
  const tls = endpoint.tls
  if (isPlainObject(tls)) {
    const min = tlsOrder.indexOf(String(tls.minVersion))
    const max = tlsOrder.indexOf(String(tls.maxVersion))
    if (min !== -1 && max !== -1 && min > max) {
      issues.push(
        issue(
          [...path, 'tls', 'minVersion'],
          `must not be higher than maxVersion (${tls.minVersion} > ${tls.maxVersion})`,
        ),
      )
    }
  }
}

function checkFlow(
  flow: Record<string, unknown>,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  // An unknown or missing kind is the schema's error; without it no field is known to exist.
  if (flow.kind === 'inbound') checkInboundFlow(flow, path, endpointNames, issues)
  else if (flow.kind === 'outbound') checkOutboundFlow(flow, path, endpointNames, issues)
  else if (flow.kind === 'status') checkStatusFlow(flow, path, endpointNames, issues)

  const retry = flow.retry
  if (
    isPlainObject(retry) &&
    typeof retry.baseDelayMs === 'number' &&
    typeof retry.maxDelayMs === 'number' &&
    retry.baseDelayMs > retry.maxDelayMs
  ) {
    issues.push(issue([...path, 'retry', 'baseDelayMs'], `must not exceed maxDelayMs (${retry.maxDelayMs})`))
  }
}

function checkEndpointName(
  value: unknown,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  if (typeof value !== 'string' || endpointNames.includes(value)) return
  const known = endpointNames.length > 0 ? endpointNames.join(', ') : 'none'
  issues.push(issue(path, `unknown endpoint "${value}" (configured: ${known})`))
}

/** What inbound and status flows share: the source endpoint exists; `move` needs a processed folder. */
function checkSourceFolder(
  flow: Record<string, unknown>,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  const source = flow.source
  if (isPlainObject(source)) {
    checkEndpointName(source.endpoint, [...path, 'source', 'endpoint'], endpointNames, issues)
  }
  const after = flow.after
  if (
    isPlainObject(after) &&
    (after.success ?? 'move') === 'move' &&
    after.processedDirectory === undefined
  ) {
    issues.push(issue([...path, 'after', 'processedDirectory'], 'required when after.success is "move"'))
  }
}

function checkInboundFlow(
  flow: Record<string, unknown>,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  checkSourceFolder(flow, path, endpointNames, issues)

  if (Array.isArray(flow.match)) {
    flow.match.forEach((rule, j) => {
      if (isPlainObject(rule)) checkMatchRule(rule, [...path, 'match', j], issues)
    })
  }
  checkFileFields(flow, path, issues)

  const schedule = flow.schedule
  if (isPlainObject(schedule)) checkSchedule(schedule, [...path, 'schedule'], issues)
  if (isPlainObject(flow.review)) checkReview(flow, flow.review, [...path, 'review'], endpointNames, issues)
}

/** Checks a closed set of placeholders (review and drop-zone templates have no record fields). */
function checkKnownPlaceholders(
  template: unknown,
  known: readonly string[],
  path: KeyPath,
  issues: ConfigIssue[],
): void {
  if (typeof template !== 'string') return
  for (const { name } of parsePlaceholders(template)) {
    if (!known.includes(name)) {
      issues.push(
        issue(path, `unknown placeholder {${name}} (known: ${known.map((k) => `{${k}}`).join(', ')})`),
      )
    }
  }
}

const reviewPlaceholders = [
  'correlationId',
  'reason',
  'reasonCode',
  'file.name',
  'file.id',
  'record.id',
  'now',
]

function checkReview(
  flow: Record<string, unknown>,
  review: Record<string, unknown>,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  const dropZone = isPlainObject(review.dropZone) ? review.dropZone : {}
  if (dropZone.endpoint !== undefined) {
    checkEndpointName(dropZone.endpoint, [...path, 'dropZone', 'endpoint'], endpointNames, issues)
  }
  checkKnownPlaceholders(
    dropZone.directory,
    [...reviewPlaceholders, 'flow'],
    [...path, 'dropZone', 'directory'],
    issues,
  )
  checkKnownPlaceholders(
    dropZone.fileName,
    ['file.name', 'file.stem', 'file.ext', 'correlationId'],
    [...path, 'dropZone', 'fileName'],
    issues,
  )
  const source = isPlainObject(flow.source) ? flow.source : {}
  const sameEndpoint = (dropZone.endpoint ?? source.endpoint) === source.endpoint
  if (sameEndpoint && typeof dropZone.directory === 'string' && typeof source.directory === 'string') {
    // The fixed part of the drop zone must not be a folder this flow reads, or returned files would come straight back.
    const fixed = dropZone.directory.split('{')[0] as string
    const root = `${source.directory.replace(/\/+$/, '')}/`
    const inside = `${fixed.replace(/\/+$/, '')}/`.startsWith(root)
    const templated = fixed.length < dropZone.directory.length
    const directlyIn = `${fixed.replace(/\/+$/, '')}/` === root && !templated
    if ((source.recursive === true && inside) || directlyIn) {
      issues.push(
        issue(
          [...path, 'dropZone', 'directory'],
          `must not be a folder the flow reads (${source.directory}${source.recursive === true ? ', recursive' : ''}): returned files would be taken in again`,
        ),
      )
    }
  }
  for (const key of ['onRejected', 'onResubmitted']) {
    const fields = review[key]
    if (!isPlainObject(fields)) continue
    for (const [field, template] of Object.entries(fields)) {
      checkKnownPlaceholders(template, reviewPlaceholders, [...path, key, field], issues)
    }
    const objects = new Set(
      (Array.isArray(flow.match) ? flow.match : []).map((rule) =>
        isPlainObject(rule) ? rule.object : undefined,
      ),
    )
    if (Object.keys(fields).length > 0 && review.object === undefined && objects.size !== 1) {
      issues.push(
        issue(
          [...path, 'object'],
          `required when ${key} is set and the match rules look up more than one object`,
        ),
      )
    }
  }
}

function checkStatusFlow(
  flow: Record<string, unknown>,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  checkSourceFolder(flow, path, endpointNames, issues)
  const key = isPlainObject(flow.key) ? flow.key : {}
  if (key.by === 'externalId' && key.field === undefined) {
    issues.push(
      issue([...path, 'key', 'field'], 'required when key.by is "externalId" (the field looked up)'),
    )
  }
  if (key.by !== 'externalId' && key.field !== undefined) {
    issues.push(issue([...path, 'key', 'field'], 'only used when key.by is "externalId"'))
  }
  const columns = new Map<string, string>()
  const claim = (column: unknown, what: string, at: KeyPath) => {
    if (typeof column !== 'string') return
    const first = columns.get(column)
    if (first !== undefined) issues.push(issue(at, `column "${column}" is already used by ${first}`))
    else columns.set(column, what)
  }
  claim(key.column, 'key.column', [...path, 'key', 'column'])
  const document = isPlainObject(flow.document) ? flow.document : undefined
  if (document) claim(document.column, 'document.column', [...path, 'document', 'column'])
  const fields = isPlainObject(flow.fields) ? flow.fields : {}
  for (const [name, spec] of Object.entries(fields)) {
    if (!isPlainObject(spec)) continue
    claim(spec.column ?? name, `fields.${name}`, [...path, 'fields', name, 'column'])
    if (spec.type === 'picklist' && !Array.isArray(spec.values)) {
      issues.push(issue([...path, 'fields', name, 'values'], 'required for a picklist field'))
    }
    if (spec.values !== undefined && spec.type !== 'picklist') {
      issues.push(issue([...path, 'fields', name, 'values'], 'only used by picklist fields'))
    }
    if (name.toLowerCase() === 'id') {
      issues.push(issue([...path, 'fields', name], 'the record Id cannot be set; it is what key names'))
    }
  }
  const schedule = flow.schedule
  if (isPlainObject(schedule)) checkSchedule(schedule, [...path, 'schedule'], issues)
}

function checkOutboundFlow(
  flow: Record<string, unknown>,
  path: KeyPath,
  endpointNames: string[],
  issues: ConfigIssue[],
): void {
  checkPubSubTrigger(flow, path, issues)
  const destination = flow.destination
  if (isPlainObject(destination)) {
    checkEndpointName(destination.endpoint, [...path, 'destination', 'endpoint'], endpointNames, issues)
    checkTemplate(destination.directory, [...path, 'destination', 'directory'], issues)
    checkTemplate(destination.fileName, [...path, 'destination', 'fileName'], issues)
  }

  const manifest = flow.manifest
  if (isPlainObject(manifest)) {
    checkTemplate(manifest.fileName, [...path, 'manifest', 'fileName'], issues)
    if (Array.isArray(manifest.recordFields)) {
      manifest.recordFields.forEach((field, j) => {
        // The schema's pattern lets through "Account..Name" and "Account."; each segment must be a name.
        // What the pattern itself rejects it has reported already.
        if (typeof field === 'string' && schemaFieldPath.test(field) && !fieldPath.test(field)) {
          issues.push(
            issue(
              [...path, 'manifest', 'recordFields', j],
              `"${field}" is not a field API name (Field or Parent.Field)`,
            ),
          )
        }
      })
    }
  }

  const window = flow.window
  if (isPlainObject(window)) {
    checkSchedule(window, [...path, 'window'], issues)
    checkTemplate(window.batchFolder, [...path, 'window', 'batchFolder'], issues)
  }

  const writeBack = flow.writeBack
  if (isPlainObject(writeBack)) {
    for (const when of ['onSuccess', 'onFailure', 'onNothingToExport'] as const) {
      const fields = writeBack[when]
      if (!isPlainObject(fields)) continue
      for (const [field, template] of Object.entries(fields)) {
        checkTemplate(template, [...path, 'writeBack', when, field], issues)
      }
    }
  }
  // outboundMessages.secret's length (16+) is the schema's minLength; repeating it here would report it twice.
  checkPollTrigger(flow, path, issues)
}

/** A record field reference: Field or Parent.Field, up to SOQL's five relationship hops. */
const fieldPath = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,5}$/
/** The schema's looser pattern for manifest.recordFields. */
const schemaFieldPath = /^[A-Za-z][A-Za-z0-9_.]*$/

/** Placeholders with a fixed meaning in outbound templates. */
const knownPlaceholders: ReadonlySet<string> = new Set([
  'file.name',
  'file.id',
  'file.size',
  'file.contentType',
  'correlationId',
  'file.count',
  'job.id',
  'flow',
  'now',
  'window',
  'format',
  'error',
])

/**
 * Lower-case first segments reserved for the bridge's own values: `{file.nme}`
 * or `{job}` is a typo to report, not a field or relationship of that name.
 * Salesforce's standard names are capitalised and custom ones end in __c/__r,
 * so no real field is shadowed.
 */
const reservedRoots: ReadonlySet<string> = new Set([
  'file',
  'job',
  'metadata',
  'flow',
  'now',
  'window',
  'format',
  'error',
])
const metadataKey = /^metadata\.[A-Za-z_][A-Za-z0-9_-]*$/
/** Date format: the tokens yyyy MM dd HH mm ss, and any non-letters between them. */
const dateFormat = /^(?:yyyy|MM|dd|HH|mm|ss|[^A-Za-z])+$/

function checkTemplate(template: unknown, path: KeyPath, issues: ConfigIssue[]): void {
  if (typeof template !== 'string') return
  for (const { name, format } of parsePlaceholders(template)) {
    const written = format === undefined ? `{${name}}` : `{${name}:${format}}`
    if (name === 'now') {
      if (format !== undefined && !dateFormat.test(format)) {
        issues.push(issue(path, `${written}: invalid date format "${format}" (tokens: yyyy MM dd HH mm ss)`))
      }
      continue
    }
    const known =
      knownPlaceholders.has(name) ||
      metadataKey.test(name) ||
      (fieldPath.test(name) && !reservedRoots.has(name.split('.')[0] ?? ''))
    if (!known) {
      issues.push(
        issue(
          path,
          `unknown placeholder ${written} (known: {file.name}, {file.id}, {file.size}, {file.contentType}, {correlationId}, ` +
            '{file.count}, {job.id}, {flow}, {now}, {now:yyyyMMdd}, {window}, {format}, {error}, ' +
            '{metadata.<key>}, {Field}, {Parent.Field})',
        ),
      )
    } else if (format !== undefined) {
      issues.push(issue(path, `${written}: only {now} takes a format`))
    }
  }
}

function checkMatchRule(rule: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  checkLookupList(rule, path, issues)
  if (rule.type === 'filename' && typeof rule.pattern === 'string') {
    const groups = namedGroups(rule.pattern, [...path, 'pattern'], issues)
    if (groups === undefined) return
    if (groups.length === 0) {
      issues.push(
        issue([...path, 'pattern'], 'must have at least one named group, e.g. (?<AccountNumber>\\d+)'),
      )
      return
    }
    const fields = isPlainObject(rule.fields) ? rule.fields : {}
    for (const group of Object.keys(fields)) {
      if (!groups.includes(group)) {
        issues.push(issue([...path, 'fields', group], `the pattern has no group named "${group}"`))
      }
    }
    const lookup = Array.isArray(rule.lookup) ? rule.lookup : groups
    for (const group of groups.filter((g) => lookup.includes(g))) {
      // Without a mapping the group's own name is the lookup field, so it must be a field name.
      if (!(group in fields) && !fieldName.test(group)) {
        issues.push(
          issue(
            [...path, 'pattern'],
            `group "${group}" is not a valid field name; map it to one under fields`,
          ),
        )
      }
    }
  } else if (rule.type === 'recordId' && typeof rule.pattern === 'string') {
    const groups = namedGroups(rule.pattern, [...path, 'pattern'], issues)
    if (groups !== undefined && !groups.includes('id')) {
      issues.push(issue([...path, 'pattern'], 'must have a group named "id", e.g. (?<id>[A-Za-z0-9]{18})'))
    }
  } else if (rule.type === 'folder' && typeof rule.template === 'string') {
    const placeholders = [...rule.template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '')
    if (placeholders.length === 0) {
      issues.push(issue([...path, 'template'], 'must contain at least one {Field}'))
    }
    for (const name of placeholders) {
      if (!fieldName.test(name))
        issues.push(issue([...path, 'template'], `"{${name}}" is not a {Field} reference`))
    }
  }
}

/** The pattern's named groups, or undefined (and an issue) when it does not compile. */
function namedGroups(pattern: string, path: KeyPath, issues: ConfigIssue[]): string[] | undefined {
  // An empty pattern is the schema's error (minLength) already.
  if (pattern === '') return undefined
  try {
    // The 'u' flag, as the matcher compiles it (src/domain/matching.ts).
    new RegExp(pattern, 'u')
  } catch (error) {
    issues.push(issue(path, `invalid regular expression: ${(error as Error).message}`))
    return undefined
  }
  // The empty alternative always matches, and the result lists every named group (unset).
  return Object.keys(new RegExp(`(?:${pattern})|`, 'u').exec('')?.groups ?? {})
}

function checkSchedule(schedule: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  const timezone = typeof schedule.timezone === 'string' ? schedule.timezone : 'UTC'
  let timezoneValid = true
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
  } catch {
    timezoneValid = false
    issues.push(
      issue([...path, 'timezone'], `unknown time zone "${timezone}" (use an IANA name like Europe/Berlin)`),
    )
  }
  if (typeof schedule.cron !== 'string') return
  try {
    new Cron(schedule.cron, { paused: true, ...(timezoneValid ? { timezone } : {}) }).stop()
  } catch (error) {
    issues.push(issue([...path, 'cron'], `invalid cron expression: ${(error as Error).message}`))
  }
}
