/** Describes every object the configuration names (once each) and judges every need against them. */
import type { BridgeConfig } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import { check, type OrgCheck } from '../../domain/org-check.js'
import { type Describes, judgeNeeds, neededObjectNames, orgNeeds } from '../../domain/org-needs.js'
import type { ObjectDescription, SalesforceApi } from '../../ports/salesforce.js'
import { isConfigurationFault } from '../flow-schema.js'

export interface SchemaResult {
  checks: OrgCheck[]
  describes: Describes
}

export async function schemaChecks(config: BridgeConfig, sf: SalesforceApi): Promise<SchemaResult> {
  const needs = orgNeeds(config)
  const describes = new Map<string, ObjectDescription | null>()
  const checks: OrgCheck[] = []
  for (const object of neededObjectNames(needs)) {
    try {
      describes.set(object, await sf.describe(object))
    } catch (error) {
      // No access to the object concerns every flow that names it as much as a missing one.
      if (isConfigurationFault(error)) {
        describes.set(object, null)
        continue
      }
      const e = toBridgeError(error)
      checks.push(
        check(`schema:${object}:describe`, `describe ${object}`, 'unknown', `${e.code}: ${e.message}`),
      )
    }
  }
  return { checks: [...checks, ...judgeNeeds(needs, describes)], describes }
}
