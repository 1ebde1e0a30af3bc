/**
 * The conformance probe (issue 19): what the org is, whether it has what the
 * configuration names with the access the run-as user needs, which variant
 * of each open S-Drive point it has, and, with `write`, whether a real file
 * goes through. Read-only unless asked to write.
 */
import type { BridgeConfig, SDriveConfig } from '../../config/schema.js'
import {
  exitCodeOf,
  type OrgCheck,
  type OrgFacts,
  overallVerdict,
  type Verdict,
} from '../../domain/org-check.js'
import {
  detectVariants,
  renderSDriveBlock,
  type SDriveVariants,
  suggestSDriveBlock,
  variantChecks,
} from '../../domain/org-variants.js'
import type { Exchange } from '../../ports/exchange-log.js'
import type { ObjectDescription, SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive } from '../../ports/sdrive.js'
import { orgFacts } from './org-facts.js'
import { schemaChecks } from './schema-checks.js'
import { writeProbe } from './write-probe.js'

export interface OrgCheckDeps {
  config: BridgeConfig
  sf: SalesforceApi
  sdrive: SDrive
  /** Every exchange of this probe so far (the variants are read from them). */
  exchanges: () => readonly Exchange[]
  now?: () => number
}

export interface OrgCheckOptions {
  write?: boolean
  /** The record the write probe uploads to (required with write). */
  recordId?: string
  /** The flow whose file object the write probe uses; default the first that has one. */
  flow?: string
}

export interface OrgReport {
  verdict: Verdict
  exitCode: number
  facts: OrgFacts
  checks: OrgCheck[]
  variants: SDriveVariants
  suggestedSdrive: SDriveConfig
  suggestedYaml: string
  wrote: boolean
}

function fileObjectsOf(config: BridgeConfig, describes: ReadonlyMap<string, ObjectDescription | null>) {
  const names = new Set<string>()
  for (const flow of config.flows) {
    if (flow.kind === 'inbound') names.add(flow.target.fileObject)
    else if (flow.kind === 'outbound') names.add(flow.source.fileObject)
    else if (flow.document) names.add(flow.document.fileObject)
  }
  return [...names].map((n) => describes.get(n)).filter((d): d is ObjectDescription => !!d)
}

export async function checkOrg(deps: OrgCheckDeps, options: OrgCheckOptions = {}): Promise<OrgReport> {
  const { config, sf, sdrive } = deps
  const now = deps.now ?? Date.now
  const { facts, checks, loggedIn } = await orgFacts(config, sf, sdrive)
  let describes: ReadonlyMap<string, ObjectDescription | null> = new Map()
  let s3UploadUrlWorks: boolean | null = null
  const wrote = loggedIn && options.write === true && options.recordId !== undefined
  if (loggedIn) {
    const schema = await schemaChecks(config, sf)
    describes = schema.describes
    checks.push(...schema.checks)
    if (wrote) {
      const probe = await writeProbe({ config, sf, sdrive, now }, options.recordId as string, options.flow)
      checks.push(...probe.checks)
      s3UploadUrlWorks = probe.s3UploadUrlWorks
    }
  }
  const fileObjects = fileObjectsOf(config, describes)
  const variants = detectVariants(deps.exchanges(), config.sdrive.filesPath, fileObjects)
  checks.push(...variantChecks(variants, config.sdrive))
  const softDeletePossible =
    fileObjects.length === 0
      ? null
      : fileObjects.every((d) =>
          d.fieldDetails?.some((f) => /(^|__)Is_Deleted__c$/i.test(f.name) && f.updateable === true),
        )
  const outcome = { s3UploadUrlWorks, softDeletePossible }
  const suggestedSdrive = suggestSDriveBlock(config.sdrive, variants, outcome)
  return {
    verdict: overallVerdict(checks),
    exitCode: exitCodeOf(checks),
    facts,
    checks,
    variants,
    suggestedSdrive,
    suggestedYaml: renderSDriveBlock(suggestedSdrive, variants, outcome),
    wrote,
  }
}
