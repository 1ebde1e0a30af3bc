/** The conformance probe's request and report (src/services/org-check) as named OpenAPI components. */
import { Type as T } from '@sinclair/typebox'
import { StringEnum } from './common.js'

const NullableString = (description?: string) =>
  T.Union([T.String(description ? { description } : {}), T.Null()])
const Verdict = StringEnum(['ok', 'wrong', 'unknown'] as const, {
  description:
    'ok: seen to work; wrong: a flow would fail; unknown: the org did not say (send the recording).',
})

export const OrgCheckRequestBody = T.Object(
  {
    write: T.Boolean({
      default: false,
      description: 'Upload a small probe file to recordId, read it back and remove it; otherwise read-only.',
    }),
    recordId: T.Optional(
      T.String({
        pattern: '^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$',
        description: 'Record the probe file goes to (required with write).',
      }),
    ),
    flow: T.Optional(
      T.String({
        pattern: '^[a-z0-9][a-z0-9-_]*$',
        maxLength: 64,
        description: "The flow whose S-Drive file object the probe uses; default the first flow's.",
      }),
    ),
  },
  { $id: 'OrgCheckRequestBody', title: 'OrgCheckRequestBody', additionalProperties: false },
)

export const OrgCheckItem = T.Object(
  {
    id: T.String({ description: 'Stable id, e.g. auth, sdrive.package, write.download.' }),
    title: T.String(),
    verdict: Verdict,
    keyPath: NullableString('The configuration key that decides it, e.g. flows[0].target.parentField.'),
    evidence: T.String({ description: 'What the org answered.' }),
  },
  { $id: 'OrgCheckItem', title: 'OrgCheckItem', additionalProperties: false },
)

export const OrgFactsView = T.Object(
  {
    username: NullableString(),
    userId: NullableString(),
    orgId: NullableString(),
    orgName: NullableString(),
    edition: NullableString(),
    isSandbox: T.Union([T.Boolean(), T.Null()]),
    apiVersion: T.String(),
    latestApiVersion: NullableString(),
    apiUsage: T.Union([
      T.Object({ used: T.Integer(), limit: T.Integer() }, { additionalProperties: false }),
      T.Null(),
    ]),
    sdriveVersion: NullableString('major.minor from the cg Publisher row, when the org tells.'),
  },
  { $id: 'OrgFactsView', title: 'OrgFactsView', additionalProperties: false },
)

export const SDriveVariantsView = T.Object(
  {
    uploadAnswer: T.Union([StringEnum(['bare', 'wrapped', 'other'] as const), T.Null()]),
    uploadFields: T.Union([T.Array(T.String()), T.Null()]),
    encryption: NullableString("s3EncryptionType, or 'none'."),
    completeAnswer: T.Union([
      T.Object({ list: T.String(), fields: T.Array(T.String()) }, { additionalProperties: false }),
      T.Null(),
    ]),
    idListEncoding: T.Union([StringEnum(['comma', 'json', 'either', 'neither'] as const), T.Null()]),
    versions: T.Union([StringEnum(['Is_Latest_Version__c', 'none'] as const), T.Null()]),
  },
  {
    $id: 'SDriveVariantsView',
    title: 'SDriveVariantsView',
    additionalProperties: false,
    description: 'The variant of each point the S-Drive reference leaves open; null: not seen.',
  },
)

export const OrgCheckReport = T.Object(
  {
    verdict: Verdict,
    exitCode: T.Integer({ description: 'What the CLI exits with: 1 when a check is wrong.' }),
    facts: T.Ref('OrgFactsView'),
    checks: T.Array(T.Ref('OrgCheckItem')),
    variants: T.Ref('SDriveVariantsView'),
    suggestedSdrive: T.Record(T.String(), T.Unknown(), { description: 'The sdrive: block for this org.' }),
    suggestedYaml: T.String({ description: 'The same, as YAML, with the detected variants as comments.' }),
    wrote: T.Boolean({ description: 'Whether the write probe ran.' }),
  },
  { $id: 'OrgCheckReport', title: 'OrgCheckReport', additionalProperties: false },
)
