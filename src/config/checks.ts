/**
 * Checks the JSON Schema cannot express: regexes compile and have the groups
 * the rule needs, names refer to things that exist, settings that only make
 * sense together. They run on data that may also have failed the schema, so
 * every access is guarded and a malformed part is skipped (the schema has
 * already reported it).
 */
import { Cron } from 'croner'
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'

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
  return issues
}

function checkEndpoint(endpoint: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  const present = (key: string) => typeof endpoint[key] === 'string' && endpoint[key] !== ''
  if (endpoint.protocol === 'sftp') {
    if (!present('hostKeySha256') && endpoint.insecureSkipHostKeyCheck !== true) {
      issues.push(
        issue(
          [...path, 'hostKeySha256'],
          'required for sftp endpoints unless insecureSkipHostKeyCheck is true',
        ),
      )
    } else if (present('hostKeySha256') && !hostKeyFingerprint.test(endpoint.hostKeySha256 as string)) {
      issues.push(
        issue([...path, 'hostKeySha256'], 'must look like "SHA256:<43 base64 characters>" (ssh-keygen -l)'),
      )
    }
    if (!present('password') && !present('privateKey')) {
      issues.push(issue(path, 'password or privateKey is required'))
    }
  } else if (typeof endpoint.protocol === 'string') {
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
  const source = flow.source
  if (
    isPlainObject(source) &&
    typeof source.endpoint === 'string' &&
    !endpointNames.includes(source.endpoint)
  ) {
    const known = endpointNames.length > 0 ? endpointNames.join(', ') : 'none'
    issues.push(
      issue([...path, 'source', 'endpoint'], `unknown endpoint "${source.endpoint}" (configured: ${known})`),
    )
  }

  const after = flow.after
  if (
    isPlainObject(after) &&
    (after.success ?? 'move') === 'move' &&
    after.processedDirectory === undefined
  ) {
    issues.push(issue([...path, 'after', 'processedDirectory'], 'required when after.success is "move"'))
  }

  if (Array.isArray(flow.match)) {
    flow.match.forEach((rule, j) => {
      if (isPlainObject(rule)) checkMatchRule(rule, [...path, 'match', j], issues)
    })
  }

  const schedule = flow.schedule
  if (isPlainObject(schedule)) checkSchedule(schedule, [...path, 'schedule'], issues)

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

function checkMatchRule(rule: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
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
    for (const group of groups) {
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
