import { Type as T } from '@sinclair/typebox'

/** One flow or endpoint a reload changed: its name and the key paths that differ. */
export const ReloadChange = T.Object(
  {
    name: T.String(),
    keys: T.Array(T.String(), {
      description:
        'Key paths whose values differ, e.g. password or source.directory (values are never shown).',
    }),
  },
  { $id: 'ReloadChange', title: 'ReloadChange', additionalProperties: false },
)

/** Flows or endpoints a reload added, removed or changed, by name; never a value. */
export const ReloadChanges = T.Object(
  {
    added: T.Array(T.String(), { description: 'Names new in the file: started by the reload.' }),
    removed: T.Array(T.String(), {
      description:
        'Names no longer in the file: work in flight finishes; queued runs and jobs of a removed flow fail with FLOW_REMOVED.',
    }),
    changed: T.Array(T.Ref('ReloadChange'), {
      description: 'Changed ones apply from their next run; a changed endpoint gets a new connection pool.',
    }),
    unchanged: T.Integer({ description: 'How many are the same as before.' }),
  },
  { $id: 'ReloadChanges', title: 'ReloadChanges', additionalProperties: false },
)

export const ReloadResult = T.Object(
  {
    flows: T.Ref('ReloadChanges'),
    endpoints: T.Ref('ReloadChanges'),
    restartRequired: T.Array(T.String(), {
      description:
        'Top-level sections that differ in the file (server, queue, store, salesforce, sdrive, notifications): a reload does not apply them; they take effect at the next start.',
    }),
    reloadedAt: T.String({ format: 'date-time' }),
  },
  { $id: 'ReloadResult', title: 'ReloadResult', additionalProperties: false },
)
