/**
 * flows[].trigger.poll of an outbound flow: export jobs started by a
 * periodic SOQL query instead of a callout from Salesforce (for orgs that
 * cannot reach the service). The schema, and the checks it cannot express.
 */
import { Type as T } from '@sinclair/typebox'
import { parseDuration } from '../domain/notifications.js'
import { pollWhereProblem } from '../domain/poll-query.js'
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'

const ApiName = (description: string) => T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$', description })
const fieldPathPattern = '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*){0,5}$'
const FieldPath = (description: string) => T.String({ pattern: fieldPathPattern, description })

/** Polls shorter than this would spend the org's API calls for nothing. */
export const MIN_POLL_MS = 1000

export const PollTriggerSchema = T.Object(
  {
    object: ApiName('The object queried for requested records (Opportunity, Export_Request__c, …).'),
    where: T.String({
      minLength: 1,
      description:
        "One SOQL condition selecting the records to export, e.g. Export_Status__c = 'Requested'. No LIMIT, ORDER BY or other clause.",
    }),
    every: T.String({
      default: '5m',
      description: 'How often to query: a duration such as 30s, 5m, 1h (at least 1s).',
    }),
    claim: T.Record(
      T.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }),
      T.Union([T.String(), T.Number(), T.Boolean(), T.Null()]),
      {
        minProperties: 1,
        description:
          "Fields written on each found record before its job is created, e.g. {Export_Status__c: 'Queued'}; they must take the record out of `where`.",
      },
    ),
    limit: T.Integer({
      minimum: 1,
      maximum: 50_000,
      default: 2000,
      description:
        'At most this many records per query (also capped by the room left in queue.maxQueuedItems).',
    }),
    recordIdField: T.String({
      pattern: fieldPathPattern,
      default: 'Id',
      description: 'The field holding the id of the record to export (default Id: the polled record itself).',
    }),
    fileIdField: T.Optional(FieldPath('A field holding one S-Drive file id to export (fileIds of the job).')),
    metadataFields: T.Optional(
      T.Array(T.String({ pattern: fieldPathPattern }), {
        uniqueItems: true,
        description: 'Fields (Field or Parent.Field) copied into the job metadata under their names.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Starts an export job per record found by a periodic SOQL query, each record claimed (updated) before its job exists; exactly once across replicas and restarts.',
  },
)

/** What outbound flows' `trigger` holds; the Pub/Sub trigger sits beside `poll`. */
export const PollTriggerProperties = { poll: T.Optional(PollTriggerSchema) }

/** The checks the schema cannot make: the duration, the condition's shape, claim fields apart from `where`'s reads. */
export function checkPollTrigger(flow: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  const trigger = flow.trigger
  if (!isPlainObject(trigger) || !isPlainObject(trigger.poll)) return
  const poll = trigger.poll
  const at = [...path, 'trigger', 'poll']
  if (typeof poll.every === 'string') {
    const ms = parseDuration(poll.every)
    if (ms === null)
      issues.push(issue([...at, 'every'], `"${poll.every}" is not a duration (e.g. 30s, 5m, 1h)`))
    else if (ms < MIN_POLL_MS) issues.push(issue([...at, 'every'], `must be at least 1s, got ${poll.every}`))
  }
  if (typeof poll.where === 'string') {
    const problem = pollWhereProblem(poll.where)
    if (problem) issues.push(issue([...at, 'where'], `not one SOQL condition: ${problem}`))
  }
  if (isPlainObject(poll.claim) && Object.hasOwn(poll.claim, 'Id')) {
    issues.push(issue([...at, 'claim', 'Id'], 'the record id cannot be a claim field'))
  }
}
