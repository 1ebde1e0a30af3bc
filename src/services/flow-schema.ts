/**
 * Checks inbound flows against the org's schema (one describe per object,
 * cached) and remembers which flows are misconfigured, for /readyz and for
 * runs that must fail at once instead of failing every file.
 *
 * When a flag clears: a flow found wrong has its objects described afresh
 * before its next run (a describe is cheap), so fixing the org (adding the
 * field, granting access) lets the next run through; fixing the configuration
 * needs a restart anyway, and start-up checks again. Describes of flows found
 * right stay cached for the life of the process; if a field disappears later,
 * the lookup's INVALID_FIELD marks the flow and drops the cache for it.
 */
import type { Logger } from 'pino'
import { type ConfigIssue, formatKeyPath } from '../config/key-path.js'
import type { Flow, InboundFlow } from '../config/schema.js'
import { BridgeError, isBridgeError, toBridgeError } from '../domain/errors.js'
import {
  type DescribedObjects,
  fieldSet,
  flowSchemaNeeds,
  neededObjects,
  schemaProblems,
} from '../domain/flow-schema.js'
import type { SalesforceApi } from '../ports/salesforce.js'

/** Salesforce error codes that concern every file of a flow, never one file. */
export const CONFIGURATION_FAULTS: ReadonlySet<string> = new Set([
  'INVALID_FIELD',
  'INVALID_TYPE',
  'MALFORMED_QUERY',
  'INSUFFICIENT_ACCESS',
  'INSUFFICIENT_ACCESS_OR_READONLY',
])

export function isConfigurationFault(error: unknown): boolean {
  const code = isBridgeError(error) ? error.details?.salesforceCode : undefined
  return typeof code === 'string' && CONFIGURATION_FAULTS.has(code)
}

export interface MisconfiguredFlow {
  flow: string
  problems: ConfigIssue[]
  since: string
}

export interface FlowSchemaChecker {
  /** The flow's wrong names with their key paths; [] when the org has everything it names. */
  problemsOf(flow: InboundFlow, signal?: AbortSignal): Promise<ConfigIssue[]>
  /** Start-up: checks every inbound flow, logs each wrong name, marks the flows. Never throws. */
  checkAll(signal?: AbortSignal): Promise<void>
  /** Before a run: FLOW_MISCONFIGURED (and the flow marked) if a name is wrong, else the mark cleared. */
  assertConfigured(flow: InboundFlow, signal?: AbortSignal): Promise<void>
  /** A lookup failed with a configuration fault: marks the flow; returns the run's error. */
  lookupFailed(flow: InboundFlow, error: BridgeError): BridgeError
  misconfigured(): MisconfiguredFlow[]
}

export function createFlowSchemaChecker(deps: {
  flows: readonly Flow[]
  sf: SalesforceApi
  logger: Logger
  now?: () => number
}): FlowSchemaChecker {
  const { sf, logger } = deps
  const now = deps.now ?? Date.now
  const described = new Map<string, Promise<ReadonlySet<string> | null>>()
  const marks = new Map<string, MisconfiguredFlow>()
  const indexOf = (flow: InboundFlow) => deps.flows.findIndex((f) => f.name === flow.name)

  function describe(object: string, signal?: AbortSignal): Promise<ReadonlySet<string> | null> {
    let pending = described.get(object)
    if (!pending) {
      pending = sf.describe(object, signal ? { signal } : {}).then(
        (d) => (d ? fieldSet(d.fields) : null),
        (error: unknown) => {
          // Only an answer is cached: a timeout or an outage is asked again next time.
          described.delete(object)
          // No access to the object concerns every file as much as a missing one.
          if (isConfigurationFault(error)) return null
          throw error
        },
      )
      described.set(object, pending)
    }
    return pending
  }

  function mark(flow: InboundFlow, problems: ConfigIssue[]): void {
    if (!marks.has(flow.name)) {
      for (const p of problems) logger.error({ flow: flow.name, path: p.path }, `${p.path}: ${p.message}`)
    }
    marks.set(flow.name, { flow: flow.name, problems, since: new Date(now()).toISOString() })
    // Asked afresh before the next run, so a fix in the org clears the mark.
    for (const object of neededObjects(flowSchemaNeeds(flow, indexOf(flow)))) described.delete(object)
  }

  async function problemsOf(flow: InboundFlow, signal?: AbortSignal): Promise<ConfigIssue[]> {
    const needs = flowSchemaNeeds(flow, indexOf(flow))
    const objects = neededObjects(needs)
    const answers = await Promise.all(objects.map((o) => describe(o, signal)))
    const map: DescribedObjects = new Map(objects.map((o, i) => [o, answers[i] ?? null]))
    return schemaProblems(needs, map)
  }

  const misconfiguredError = (flow: InboundFlow, problems: ConfigIssue[]) =>
    new BridgeError(
      'FLOW_MISCONFIGURED',
      `flow "${flow.name}" is misconfigured; no file was touched: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { details: { problems } },
    )

  return {
    problemsOf,

    async checkAll(signal) {
      const inbound = deps.flows.filter((f): f is InboundFlow => f.kind === 'inbound')
      await Promise.all(
        inbound.map(async (flow) => {
          try {
            const problems = await problemsOf(flow, signal)
            if (problems.length > 0) mark(flow, problems)
          } catch (error) {
            // Salesforce unreachable at start-up: /readyz says so already; runs check again.
            const e = toBridgeError(error)
            logger.warn(
              { flow: flow.name, code: e.code, err: e.message },
              'could not check the flow against the org',
            )
          }
        }),
      )
    },

    async assertConfigured(flow, signal) {
      let problems: ConfigIssue[]
      try {
        problems = await problemsOf(flow, signal)
      } catch (error) {
        // An outage is not a configuration fault: the run goes on and meets it where it matters.
        logger.warn({ flow: flow.name, err: toBridgeError(error).message }, 'could not check the flow')
        return
      }
      if (problems.length === 0) {
        if (marks.delete(flow.name))
          logger.info({ flow: flow.name }, 'flow configuration matches the org again')
        return
      }
      mark(flow, problems)
      throw misconfiguredError(flow, problems)
    },

    lookupFailed(flow, error) {
      const ruleIndex = error.details?.ruleIndex
      const path = formatKeyPath([
        'flows',
        indexOf(flow),
        'match',
        typeof ruleIndex === 'number' ? ruleIndex : 0,
      ])
      const problems = [{ path, message: error.message }]
      mark(flow, problems)
      return misconfiguredError(flow, problems)
    },

    misconfigured: () => [...marks.values()],
  }
}
