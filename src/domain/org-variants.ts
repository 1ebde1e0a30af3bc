/**
 * Which variant of each point the S-Drive reference leaves open (UNCONFIRMED)
 * an org has, read from the recorded answers of a probe, and the `sdrive:`
 * block that fits it. Pure.
 */
import type { SDriveConfig } from '../config/schema.js'
import type { Exchange } from '../ports/exchange-log.js'
import type { ObjectDescription } from '../ports/salesforce.js'
import { check, type OrgCheck } from './org-check.js'

export interface SDriveVariants {
  /** POST /files: a bare uploadRequestInfo[] or {"uploadRequestInfo": […]}; null when not seen. */
  uploadAnswer: 'bare' | 'wrapped' | 'other' | null
  /** The field names of one uploadRequestInfo, as the org sent them. */
  uploadFields: string[] | null
  /** uploadRequestInfo.s3EncryptionType: the value, 'none' when null or absent; null when not seen. */
  encryption: string | null
  /** PUT /files: the key holding the results ('' for a bare array) and one result's field names. */
  completeAnswer: { list: string; fields: string[] } | null
  /** Which id list encodings GET /files accepted: comma, json, either; 'neither' when both failed; null when not tried. */
  idListEncoding: 'comma' | 'json' | 'either' | 'neither' | null
  /** How versions are recorded: the Is_Latest_Version__c field, or 'none'; null when no file object was described. */
  versions: 'Is_Latest_Version__c' | 'none' | null
}

/** The adapter's answer parsers understand these (src/adapters/sdrive/complete-result.ts). */
const KNOWN_RESULT_LISTS = new Set(['', 'resultObjects', 'results', 'resultObject'])
const KNOWN_ID_FIELDS = ['wipFileId', 'wipId', 'id', 'fileObjectId', 'fileId', 'recordId']
const KNOWN_STATUS_FIELDS = ['success', 'isSuccess', 'status', 'result', 'state', 'statusCode']

const pathOf = (url: string) => {
  try {
    return new URL(url, 'http://relative.invalid').pathname
  } catch {
    return url
  }
}

function filesCalls(exchanges: readonly Exchange[], filesPath: string, method: string): Exchange[] {
  const path = `/services/apexrest${filesPath.startsWith('/') ? filesPath : `/${filesPath}`}`
  return exchanges.filter((e) => e.service === 'salesforce' && e.method === method && pathOf(e.url) === path)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function uploadVariant(
  posts: readonly Exchange[],
): Pick<SDriveVariants, 'uploadAnswer' | 'uploadFields' | 'encryption'> {
  const answered = posts.find((e) => e.status !== null && e.status >= 200 && e.status < 300)
  if (!answered) return { uploadAnswer: null, uploadFields: null, encryption: null }
  const body = answered.responseBody
  const list = Array.isArray(body)
    ? body
    : isRecord(body) && Array.isArray(body.uploadRequestInfo)
      ? body.uploadRequestInfo
      : null
  const shape = Array.isArray(body) ? 'bare' : list ? 'wrapped' : 'other'
  const first = list?.[0]
  if (!isRecord(first)) return { uploadAnswer: shape, uploadFields: null, encryption: null }
  const sse = first.s3EncryptionType
  return {
    uploadAnswer: shape,
    uploadFields: Object.keys(first),
    encryption: typeof sse === 'string' && sse !== '' ? sse : 'none',
  }
}

function completeVariant(puts: readonly Exchange[]): SDriveVariants['completeAnswer'] {
  const answered = puts.find((e) => e.status !== null && e.status >= 200 && e.status < 300)
  if (!answered) return null
  const body = answered.responseBody
  if (Array.isArray(body)) return { list: '', fields: isRecord(body[0]) ? Object.keys(body[0]) : [] }
  if (!isRecord(body)) return { list: '(no body)', fields: [] }
  const listKey = Object.keys(body).find((k) => Array.isArray(body[k]))
  if (listKey === undefined) return { list: '(no list)', fields: Object.keys(body) }
  const first = (body[listKey] as unknown[])[0]
  return { list: listKey, fields: isRecord(first) ? Object.keys(first) : [] }
}

/** GET /files calls with a fileObjectId: which encoding each used, and whether it got links. */
function idListVariant(gets: readonly Exchange[]): SDriveVariants['idListEncoding'] {
  const outcome = { comma: null as boolean | null, json: null as boolean | null }
  for (const e of gets) {
    const value = new URL(e.url, 'http://relative.invalid').searchParams.get('fileObjectId')
    if (value === null || e.status === null) continue
    const encoding = value.trim().startsWith('[') ? 'json' : 'comma'
    const worked = e.status === 200
    outcome[encoding] = (outcome[encoding] ?? false) || worked
  }
  if (outcome.comma === null && outcome.json === null) return null
  if (outcome.comma && outcome.json) return 'either'
  if (outcome.comma) return 'comma'
  if (outcome.json) return 'json'
  return 'neither'
}

function versionsVariant(fileObjects: readonly ObjectDescription[]): SDriveVariants['versions'] {
  if (fileObjects.length === 0) return null
  const has = fileObjects.every((d) => d.fields.some((f) => /(^|__)Is_Latest_Version__c$/i.test(f)))
  return has ? 'Is_Latest_Version__c' : 'none'
}

export function detectVariants(
  exchanges: readonly Exchange[],
  filesPath: string,
  fileObjects: readonly ObjectDescription[],
): SDriveVariants {
  return {
    ...uploadVariant(filesCalls(exchanges, filesPath, 'POST')),
    completeAnswer: completeVariant(filesCalls(exchanges, filesPath, 'PUT')),
    idListEncoding: idListVariant(filesCalls(exchanges, filesPath, 'GET')),
    versions: versionsVariant(fileObjects),
  }
}

/** Verdicts on the detected variants: whether the bridge, as configured, copes with each. */
export function variantChecks(variants: SDriveVariants, config: SDriveConfig): OrgCheck[] {
  const checks: OrgCheck[] = []
  const { uploadAnswer, completeAnswer, idListEncoding, encryption } = variants
  if (uploadAnswer !== null) {
    checks.push(
      check(
        'sdrive.uploadAnswer',
        'POST /files answer shape',
        uploadAnswer === 'other' ? 'unknown' : 'ok',
        uploadAnswer === 'other'
          ? 'neither a bare uploadRequestInfo[] nor {"uploadRequestInfo": […]}: send the recording'
          : `${uploadAnswer === 'bare' ? 'a bare uploadRequestInfo[]' : '{"uploadRequestInfo": […]}'} with fields ${variants.uploadFields?.join(', ') ?? '?'}; encryption ${encryption ?? '?'}`,
      ),
    )
  }
  if (completeAnswer !== null) {
    const known =
      KNOWN_RESULT_LISTS.has(completeAnswer.list) &&
      completeAnswer.fields.some((f) => KNOWN_ID_FIELDS.includes(f)) &&
      completeAnswer.fields.some((f) => KNOWN_STATUS_FIELDS.includes(f))
    checks.push(
      check(
        'sdrive.completeAnswer',
        'PUT /files result field names',
        known ? 'ok' : 'unknown',
        `results under ${completeAnswer.list === '' ? 'a bare array' : `"${completeAnswer.list}"`} with fields ${completeAnswer.fields.join(', ') || '(none)'}${known ? '' : ': not names the bridge knows; send the recording'}`,
      ),
    )
  }
  if (idListEncoding !== null) {
    const works = idListEncoding === 'either' || idListEncoding === config.idListEncoding
    checks.push(
      check(
        'sdrive.idListEncoding',
        'id lists in GET /files',
        works ? 'ok' : 'wrong',
        idListEncoding === 'neither'
          ? 'GET /files gave no link with comma-separated nor with JSON id lists'
          : `the org accepts ${idListEncoding === 'either' ? 'both comma-separated and JSON' : idListEncoding} id lists; configured: ${config.idListEncoding}`,
        'sdrive.idListEncoding',
      ),
    )
  }
  return checks
}

/** What the probe learned beyond the variants: which sdrive settings were seen to work. */
export interface ProbeOutcome {
  /** The S3 upload URL took the probe's upload (true), refused it or is no bucket (false), or was not tried (null). */
  s3UploadUrlWorks: boolean | null
  /** Removing a file per replaceMode is possible for the run-as user (from describe); null when not judged. */
  softDeletePossible: boolean | null
}

/** The `sdrive:` block for this org: configured values, changed where the probe saw they cannot work. */
export function suggestSDriveBlock(
  config: SDriveConfig,
  variants: SDriveVariants,
  outcome: ProbeOutcome,
): SDriveConfig {
  const idListEncoding =
    variants.idListEncoding === 'comma' || variants.idListEncoding === 'json'
      ? variants.idListEncoding
      : config.idListEncoding
  const replaceMode =
    config.replaceMode === 'softDelete' && outcome.softDeletePossible === false
      ? 'delete'
      : config.replaceMode
  return { ...config, idListEncoding, replaceMode }
}

/** The suggested block as YAML, with the detected variants that need no key as comments. */
export function renderSDriveBlock(
  block: SDriveConfig,
  variants: SDriveVariants,
  outcome: ProbeOutcome,
): string {
  const url =
    outcome.s3UploadUrlWorks === false
      ? `${block.s3UploadUrl}  # DID NOT WORK: the bucket endpoint, e.g. https://<bucket>.s3.<region>.amazonaws.com/`
      : block.s3UploadUrl
  const lines = [
    'sdrive:',
    `  filesPath: ${block.filesPath}`,
    `  s3UploadUrl: ${url}`,
    `  idListEncoding: ${block.idListEncoding}`,
    `  replaceMode: ${block.replaceMode}`,
    `  linkLifetimeSeconds: ${block.linkLifetimeSeconds}`,
    `  uploadTimeoutMs: ${block.uploadTimeoutMs}`,
    '  # detected (the bridge accepts every variant of these; no key to set):',
    `  #   POST /files answer: ${variants.uploadAnswer ?? 'not seen'}`,
    `  #   server-side encryption: ${variants.encryption ?? 'not seen'}`,
    `  #   PUT /files results: ${variants.completeAnswer ? `${variants.completeAnswer.list || '(bare array)'} [${variants.completeAnswer.fields.join(', ')}]` : 'not seen'}`,
    `  #   versions: ${variants.versions === 'none' ? 'not available (no Is_Latest_Version__c): use review.resubmission: replace' : (variants.versions ?? 'not seen')}`,
  ]
  return `${lines.join('\n')}\n`
}
