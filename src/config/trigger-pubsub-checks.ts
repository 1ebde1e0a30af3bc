/** Checks of trigger.pubsub the schema cannot express: which fields a Platform Event or a change event needs. */
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'

export function checkPubSubTrigger(
  flow: Record<string, unknown>,
  path: KeyPath,
  issues: ConfigIssue[],
): void {
  const trigger = flow.trigger
  if (!isPlainObject(trigger) || !isPlainObject(trigger.pubsub)) return
  const pubsub = trigger.pubsub
  const at = [...path, 'trigger', 'pubsub']
  if (typeof pubsub.topic !== 'string') return
  const changeEvents = pubsub.topic.startsWith('/data/')
  if (changeEvents) {
    for (const key of ['recordIdField', 'fileIdField'] as const) {
      if (pubsub[key] !== undefined) {
        issues.push(issue([...at, key], 'a change event names its records in ChangeEventHeader.recordIds'))
      }
    }
    return
  }
  if (pubsub.changedFields !== undefined) {
    issues.push(issue([...at, 'changedFields'], 'only change events (/data/… topics) carry changed fields'))
  }
  if (pubsub.recordIdField === undefined && pubsub.fileIdField === undefined) {
    issues.push(issue(at, 'a Platform Event trigger needs recordIdField or fileIdField'))
  }
}
