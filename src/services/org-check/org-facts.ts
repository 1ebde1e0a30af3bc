/**
 * The read-only checks of who and where the bridge runs: login, user, org
 * and edition, API version and usage, S-Drive's package, its files resource
 * and the S3 upload URL. Each answer the org gives is evidence; an answer it
 * does not give is `unknown`, never a guess.
 */
import type { BridgeConfig } from '../../config/schema.js'
import { isBridgeError, toBridgeError } from '../../domain/errors.js'
import { check, compareApiVersions, type OrgCheck, type OrgFacts } from '../../domain/org-check.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive } from '../../ports/sdrive.js'

export interface FactsResult {
  facts: OrgFacts
  checks: OrgCheck[]
  /** false when the login failed: nothing else can be asked. */
  loggedIn: boolean
}

const describeError = (error: unknown) => {
  const e = toBridgeError(error)
  return `${e.code}: ${e.message}`
}

async function attempt<T>(call: () => Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await call() }
  } catch (error) {
    return { error }
  }
}

function emptyFacts(config: BridgeConfig): OrgFacts {
  return {
    username: null,
    userId: null,
    orgId: null,
    orgName: null,
    edition: null,
    isSandbox: null,
    apiVersion: config.salesforce.apiVersion,
    latestApiVersion: null,
    apiUsage: null,
    sdriveVersion: null,
  }
}

async function whoAmI(sf: SalesforceApi, facts: OrgFacts): Promise<OrgCheck> {
  const identity = sf.identity()
  if (identity) {
    facts.orgId = identity.orgId
    facts.userId = identity.userId
    const user = await attempt(() => sf.get<{ username?: unknown }>(identity.url))
    if ('value' in user && typeof user.value.username === 'string') facts.username = user.value.username
  }
  const org = await attempt(() =>
    sf.query<{ Name?: unknown; OrganizationType?: unknown; IsSandbox?: unknown }>(
      'SELECT Id, Name, OrganizationType, IsSandbox FROM Organization LIMIT 1',
    ),
  )
  const row = 'value' in org ? org.value[0] : undefined
  if (row) {
    facts.orgName = typeof row.Name === 'string' ? row.Name : null
    facts.edition = typeof row.OrganizationType === 'string' ? row.OrganizationType : null
    facts.isSandbox = typeof row.IsSandbox === 'boolean' ? row.IsSandbox : null
  }
  const known = facts.username !== null && facts.orgId !== null && facts.edition !== null
  return check(
    'org.identity',
    'user, org and edition',
    known ? 'ok' : 'unknown',
    `user ${facts.username ?? '?'} (${facts.userId ?? '?'}), org ${facts.orgName ?? '?'} ${facts.orgId ?? '?'}, edition ${facts.edition ?? '?'}${facts.isSandbox ? ' (sandbox)' : ''}` +
      ('error' in org ? `; the Organization query failed: ${describeError(org.error)}` : ''),
  )
}

async function apiVersionCheck(sf: SalesforceApi, facts: OrgFacts): Promise<OrgCheck> {
  const answer = await attempt(() => sf.get<{ version?: unknown }[]>('/services/data'))
  const versions =
    'value' in answer && Array.isArray(answer.value)
      ? answer.value.map((v) => v.version).filter((v): v is string => typeof v === 'string')
      : []
  if (versions.length === 0) {
    const why = 'error' in answer ? describeError(answer.error) : 'no version list in the answer'
    return check('salesforce.apiVersion', 'API version', 'unknown', why, 'salesforce.apiVersion')
  }
  const latest = [...versions].sort(compareApiVersions).at(-1) as string
  facts.latestApiVersion = latest
  const offered = versions.includes(facts.apiVersion)
  return check(
    'salesforce.apiVersion',
    'API version',
    offered ? 'ok' : 'wrong',
    offered
      ? `${facts.apiVersion} is offered (latest ${latest})`
      : `${facts.apiVersion} is not offered by the org (latest ${latest})`,
    'salesforce.apiVersion',
  )
}

async function apiUsageCheck(sf: SalesforceApi, facts: OrgFacts): Promise<OrgCheck> {
  const answer = await attempt(() =>
    sf.get<{ DailyApiRequests?: { Max?: unknown; Remaining?: unknown } }>('/limits'),
  )
  const daily = 'value' in answer ? answer.value.DailyApiRequests : undefined
  if (typeof daily?.Max === 'number' && typeof daily.Remaining === 'number') {
    facts.apiUsage = { used: daily.Max - daily.Remaining, limit: daily.Max }
  } else {
    facts.apiUsage = sf.apiUsage()
  }
  if (!facts.apiUsage) return check('org.apiUsage', 'API usage', 'unknown', 'the org reported no usage')
  const { used, limit } = facts.apiUsage
  return check(
    'org.apiUsage',
    'API usage',
    used < limit ? 'ok' : 'wrong',
    `${used} of ${limit} daily API requests used${used < limit ? '' : ': every flow waits until the limit lifts'}`,
  )
}

async function sdrivePackageCheck(sf: SalesforceApi, facts: OrgFacts): Promise<OrgCheck> {
  const global = await attempt(() => sf.get<{ sobjects?: { name?: unknown }[] }>('/sobjects'))
  if ('error' in global) {
    return check('sdrive.package', 'S-Drive installed', 'unknown', describeError(global.error), 'sdrive')
  }
  const names = (global.value.sobjects ?? [])
    .map((o) => o.name)
    .filter((n): n is string => typeof n === 'string' && n.toLowerCase().startsWith('cg__'))
  const publisher = await attempt(() =>
    sf.query<{ MajorVersion?: unknown; MinorVersion?: unknown }>(
      "SELECT NamespacePrefix, MajorVersion, MinorVersion FROM Publisher WHERE NamespacePrefix = 'cg'",
    ),
  )
  const row = 'value' in publisher ? publisher.value[0] : undefined
  if (row && typeof row.MajorVersion === 'number') {
    facts.sdriveVersion = `${row.MajorVersion}.${typeof row.MinorVersion === 'number' ? row.MinorVersion : '?'}`
  }
  if (names.length === 0) {
    return check(
      'sdrive.package',
      'S-Drive installed',
      'wrong',
      'the org has no object of the cg namespace: S-Drive is not installed, or the run-as user has no access to it (permission set)',
      'sdrive',
    )
  }
  const shown = names.slice(0, 4).join(', ')
  return check(
    'sdrive.package',
    'S-Drive installed',
    'ok',
    `namespace cg: ${names.length} objects (${shown}${names.length > 4 ? ', …' : ''}); version ${facts.sdriveVersion ?? 'not told by the org'}`,
    'sdrive',
  )
}

/** A GET without ids: S-Drive refuses it with its own status; the platform's 404 means no such resource. */
async function filesResourceCheck(sf: SalesforceApi, config: BridgeConfig): Promise<OrgCheck> {
  const path = config.sdrive.filesPath
  const answer = await attempt(() => sf.apex('GET', path))
  const title = 'S-Drive files resource answers'
  if ('value' in answer)
    return check('sdrive.filesResource', title, 'ok', `GET ${path} answered`, 'sdrive.filesPath')
  const e = toBridgeError(answer.error)
  const status = isBridgeError(answer.error) ? answer.error.details?.status : undefined
  if (status === 404 && /could not find a match/i.test(e.message)) {
    return check(
      'sdrive.filesResource',
      title,
      'wrong',
      `GET /services/apexrest${path} → 404 "${e.message}": the Apex REST resource does not exist (S-Drive not installed, or sdrive.filesPath wrong)`,
      'sdrive.filesPath',
    )
  }
  if (typeof status === 'number' && status >= 400 && status < 500 && status !== 401) {
    return check(
      'sdrive.filesResource',
      title,
      'ok',
      `GET without ids → ${status} (${e.message}): S-Drive's own refusal`,
      'sdrive.filesPath',
    )
  }
  return check('sdrive.filesResource', title, 'unknown', describeError(answer.error), 'sdrive.filesPath')
}

async function s3UrlCheck(sdrive: SDrive, config: BridgeConfig): Promise<OrgCheck> {
  const url = config.sdrive.s3UploadUrl
  const answer = await sdrive.checkUploadUrl()
  const title = 'S3 upload URL is a bucket endpoint'
  const key = 'sdrive.s3UploadUrl'
  if (answer.status === null) {
    return check('sdrive.s3UploadUrl', title, 'wrong', `${url} did not answer: ${answer.error}`, key)
  }
  if (answer.s3Code === 'NoSuchBucket') {
    return check('sdrive.s3UploadUrl', title, 'wrong', `${url} → ${answer.status} NoSuchBucket`, key)
  }
  if (answer.s3Code === null) {
    return check(
      'sdrive.s3UploadUrl',
      title,
      answer.status >= 200 && answer.status < 300 ? 'unknown' : 'wrong',
      `${url} → ${answer.status} without an S3 error document: not an S3 bucket endpoint`,
      key,
    )
  }
  return check(
    'sdrive.s3UploadUrl',
    title,
    'ok',
    `${url} → ${answer.status} ${answer.s3Code}, as a bucket answers an unsigned GET (--write proves an upload)`,
    key,
  )
}

export async function orgFacts(
  config: BridgeConfig,
  sf: SalesforceApi,
  sdrive: SDrive,
): Promise<FactsResult> {
  const facts = emptyFacts(config)
  try {
    await sf.checkAuth({ whenLimited: 'fail' })
  } catch (error) {
    const auth = check('auth', 'login', 'wrong', describeError(error), 'salesforce.auth')
    return { facts, checks: [auth], loggedIn: false }
  }
  const login = check(
    'auth',
    'login',
    'ok',
    `${config.salesforce.auth.type} grant at ${config.salesforce.loginUrl}`,
  )
  const checks = [
    login,
    await whoAmI(sf, facts),
    await apiVersionCheck(sf, facts),
    await apiUsageCheck(sf, facts),
    await sdrivePackageCheck(sf, facts),
    await filesResourceCheck(sf, config),
    await s3UrlCheck(sdrive, config),
  ]
  return { facts, checks, loggedIn: true }
}
