/**
 * The conformance probe's pure parts: verdict aggregation, the needs of a
 * configuration and their verdicts from describes, variant detection from
 * recorded answers, the suggested sdrive: block, and recording redaction.
 */
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { check, compareApiVersions, exitCodeOf, overallVerdict } from '../../src/domain/org-check.js'
import { judgeNeeds, neededObjectNames, orgNeeds } from '../../src/domain/org-needs.js'
import {
  detectVariants,
  renderSDriveBlock,
  suggestSDriveBlock,
  variantChecks,
} from '../../src/domain/org-variants.js'
import { redactExchange } from '../../src/logging/exchange-redaction.js'
import type { Exchange } from '../../src/ports/exchange-log.js'
import type { ObjectDescription } from '../../src/ports/salesforce.js'
import { probeFlows } from '../support/org-probe.js'

/** A configuration of the sandbox-shaped org with these flows on one SFTP endpoint. */
const configWith = (flows: unknown[]) =>
  parseConfig(
    JSON.stringify({
      salesforce: {
        loginUrl: 'https://example.my.salesforce.com',
        auth: { type: 'client_credentials', clientId: 'id', clientSecret: 'the-client-secret' },
      },
      sdrive: { s3UploadUrl: 'https://bucket.s3.us-east-1.amazonaws.com/' },
      endpoints: {
        partner: {
          protocol: 'sftp',
          host: 'h',
          username: 'u',
          password: 'p4ssw0rd!',
          insecureSkipHostKeyCheck: true,
        },
      },
      flows,
    }),
    'json',
    {},
  )
const config = configWith(probeFlows())

t.test('verdicts add up: wrong beats unknown beats ok; only wrong exits non-zero', async (t) => {
  const ok = check('a', 'a', 'ok', '')
  const unknown = check('b', 'b', 'unknown', '')
  const wrong = check('c', 'c', 'wrong', '', 'sdrive.s3UploadUrl')
  t.equal(overallVerdict([]), 'ok')
  t.equal(overallVerdict([ok, unknown]), 'unknown')
  t.equal(overallVerdict([ok, unknown, wrong]), 'wrong')
  t.equal(exitCodeOf([ok, unknown]), 0)
  t.equal(exitCodeOf([wrong]), 1)
  t.ok(compareApiVersions('63.0', '9.0') > 0, 'numerically, not as text')
  t.equal(compareApiVersions('63.0', '63.0'), 0)
})

function describe(name: string, fields: [string, string, boolean][], access = true): ObjectDescription {
  return {
    name,
    fields: fields.map(([f]) => f),
    keyPrefix: null,
    fieldDetails: fields.map(([f, type, writable]) => ({
      name: f,
      type,
      createable: writable,
      updateable: writable,
    })),
    access: { createable: access, updateable: access, deletable: access, queryable: true },
  }
}

const sdriveFields = (
  prefix: string,
  parent: string,
  isDeletedWritable = true,
): [string, string, boolean][] => [
  [parent, 'reference', true],
  ...['File_Name__c', 'Key__c', 'Parent_Folder_Id__c', 'Content_Type__c'].map(
    (f): [string, string, boolean] => [`${prefix}${f}`, 'string', true],
  ),
  [`${prefix}File_Size_in_Bytes__c`, 'double', true],
  [`${prefix}WIP__c`, 'boolean', true],
  [`${prefix}Is_Deleted__c`, 'boolean', isDeletedWritable],
]

t.test('the needs of a configuration and their verdicts', async (t) => {
  const needs = orgNeeds(config)
  t.same(neededObjectNames(needs).sort(), [
    'Account',
    'Opportunity',
    'cg__AccountFile__c',
    'cg__OpportunityFile__c',
  ])
  t.ok(
    needs.some(
      (n) => n.object === 'cg__AccountFile__c' && n.field === 'cg__Is_Deleted__c' && n.access === 'update',
    ),
    'existing: replace with softDelete needs Is_Deleted__c updateable',
  )
  const good = new Map<string, ObjectDescription | null>([
    ['Account', describe('Account', [['AccountNumber', 'string', true]])],
    ['Opportunity', describe('Opportunity', [['StageName', 'picklist', true]])],
    ['cg__AccountFile__c', describe('cg__AccountFile__c', sdriveFields('cg__', 'cg__Account__c'))],
    [
      'cg__OpportunityFile__c',
      describe('cg__OpportunityFile__c', sdriveFields('cg__', 'cg__Opportunity__c')),
    ],
  ])
  t.same(
    judgeNeeds(needs, good).filter((c) => c.verdict !== 'ok'),
    [],
    'an org with everything: every need ok',
  )

  const bad = new Map(good)
  bad.set('Opportunity', describe('Opportunity', [['StageName', 'picklist', false]]))
  bad.set('cg__AccountFile__c', describe('cg__AccountFile__c', sdriveFields('cg__', 'cg__Account__c', false)))
  bad.set('cg__OpportunityFile__c', null)
  const problems = judgeNeeds(needs, bad).filter((c) => c.verdict !== 'ok')
  t.same(
    problems.map((c) => c.keyPath),
    ['sdrive.replaceMode', 'flows[1].source.fileObject', 'flows[1].writeBack.onSuccess.StageName'],
    'each with its key path; a missing object once per place that names it',
  )
  t.match(problems[0]?.evidence, /cannot edit cg__AccountFile__c\.cg__Is_Deleted__c/)

  const unsaid = new Map(good)
  const opportunity = describe('Opportunity', [['StageName', 'picklist', true]])
  unsaid.set('Opportunity', {
    ...opportunity,
    fieldDetails: [{ name: 'StageName', type: 'picklist', createable: null, updateable: null }],
  })
  t.same(
    judgeNeeds(needs, unsaid)
      .filter((c) => c.verdict !== 'ok')
      .map((c) => c.verdict),
    ['unknown'],
    'describe without the access flags: unknown, not a guess',
  )
})

const filesUrl = 'https://example.my.salesforce.com/services/apexrest/cg/SDrive/files'
const exchange = (method: string, url: string, status: number, responseBody: unknown): Exchange => ({
  at: '2026-01-01T00:00:00.000Z',
  service: 'salesforce',
  method,
  url,
  status,
  durationMs: 1,
  responseBody,
})
const info = (s3EncryptionType: string | null) => ({
  wipFileId: 'a0X1',
  fileLocation: 'k',
  policy: 'p',
  signature: 's',
  s3EncryptionType,
})
const get = (ids: string, status: number) =>
  exchange('GET', `${filesUrl}?fileObjectId=${encodeURIComponent(ids)}&parentId=x`, status, {})

t.test('variants are read from the recorded answers', async (t) => {
  const bare = detectVariants(
    [
      exchange('POST', filesUrl, 201, [info('AES256')]),
      exchange('PUT', filesUrl, 200, {
        resultObjects: [{ wipFileId: 'a0X1', success: true, message: 'ok' }],
      }),
      get('a0X1', 200),
      get('["a0X1"]', 200),
    ],
    '/cg/SDrive/files',
    [describe('cg__AccountFile__c', [['cg__Is_Latest_Version__c', 'boolean', true]])],
  )
  t.same(bare, {
    uploadAnswer: 'bare',
    uploadFields: ['wipFileId', 'fileLocation', 'policy', 'signature', 's3EncryptionType'],
    encryption: 'AES256',
    completeAnswer: { list: 'resultObjects', fields: ['wipFileId', 'success', 'message'] },
    idListEncoding: 'either',
    versions: 'Is_Latest_Version__c',
  })

  const wrapped = detectVariants(
    [
      exchange('POST', filesUrl, 201, { uploadRequestInfo: [info(null)] }),
      exchange('PUT', filesUrl, 200, { results: [{ id: 'a0X1', isSuccess: true }] }),
      get('a0X1', 404),
      get('["a0X1"]', 200),
    ],
    '/cg/SDrive/files',
    [describe('Invoice_File__c', [['File_Name__c', 'string', true]])],
  )
  t.match(wrapped, { uploadAnswer: 'wrapped', encryption: 'none', idListEncoding: 'json', versions: 'none' })
  t.same(wrapped.completeAnswer, { list: 'results', fields: ['id', 'isSuccess'] })
  t.same(
    variantChecks(wrapped, { ...config.sdrive, idListEncoding: 'comma' })
      .filter((c) => c.verdict !== 'ok')
      .map((c) => `${c.verdict} ${c.keyPath}`),
    ['wrong sdrive.idListEncoding'],
  )
  const block = suggestSDriveBlock(config.sdrive, wrapped, {
    s3UploadUrlWorks: true,
    softDeletePossible: false,
  })
  t.match(block, { idListEncoding: 'json', replaceMode: 'delete', s3UploadUrl: config.sdrive.s3UploadUrl })
  const yaml = renderSDriveBlock(block, wrapped, { s3UploadUrlWorks: false, softDeletePossible: false })
  t.match(yaml, /^sdrive:\n {2}filesPath: \/cg\/SDrive\/files\n/)
  t.match(yaml, /idListEncoding: json\n/)
  t.match(yaml, /s3UploadUrl: \S+ {2}# DID NOT WORK/)
  t.match(yaml, /versions: not available/)

  const odd = detectVariants(
    [
      exchange('POST', filesUrl, 201, { files: [] }),
      exchange('PUT', filesUrl, 200, { outcome: [{ ref: 'a0X1', ok: true }] }),
      get('a0X1', 403),
      get('["a0X1"]', 403),
      exchange('POST', 'https://example.my.salesforce.com/services/apexrest/other', 201, []),
    ],
    '/cg/SDrive/files',
    [],
  )
  t.match(odd, { uploadAnswer: 'other', idListEncoding: 'neither', versions: null })
  t.same(
    variantChecks(odd, config.sdrive).map((c) => `${c.id} ${c.verdict}`),
    ['sdrive.uploadAnswer unknown', 'sdrive.completeAnswer unknown', 'sdrive.idListEncoding wrong'],
    'answers the bridge does not know are unknown; no encoding working is wrong',
  )
  t.same(detectVariants([], '/cg/SDrive/files', []), {
    uploadAnswer: null,
    uploadFields: null,
    encryption: null,
    completeAnswer: null,
    idListEncoding: null,
    versions: null,
  })
})

t.test('a recorded exchange keeps nothing secret', async (t) => {
  const token = '00D000000000001!AQ8AQHr0aTeMpOrArYtOkEn.value_x'
  const raw: Exchange = {
    at: '2026-01-01T00:00:00.000Z',
    service: 'salesforce',
    method: 'POST',
    url: `https://x.example/s3/b/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc123&response-content-disposition=inline`,
    status: 200,
    durationMs: 1,
    requestHeaders: { Authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    requestBody: { client_secret: 'the-client-secret', grant_type: 'client_credentials', note: 'p4ssw0rd!' },
    responseBody: {
      access_token: token,
      id: 'https://x.example/id/00D000000000001AAA/005000000000001AAA',
      uploadRequestInfo: [{ policy: 'eyJ...', signature: 'f00', awsCredential: 'AKIA/x', fileName: 'a.pdf' }],
      fileUrls: [`https://b.s3/k?X-Amz-Signature=def456&X-Amz-Date=1`],
      text: `session ${token} in a message`,
    },
  }
  const redacted = redactExchange(raw, ['the-client-secret', 'p4ssw0rd!', 'ab'])
  const text = JSON.stringify(redacted)
  for (const secret of [
    'the-client-secret',
    'p4ssw0rd!',
    'AQ8AQHr0aTeMpOrArYtOkEn',
    'abc123',
    'def456',
    'eyJ...',
    'f00',
    'AKIA/x',
  ]) {
    t.notOk(text.includes(secret), `${secret} is gone`)
  }
  t.match(redacted, {
    requestHeaders: { Authorization: '[redacted]', 'content-type': 'application/json' },
    requestBody: { client_secret: '[redacted]', grant_type: 'client_credentials', note: '[redacted]' },
    responseBody: {
      id: 'https://x.example/id/00D000000000001AAA/005000000000001AAA',
      uploadRequestInfo: [{ fileName: 'a.pdf' }],
    },
  })
  t.match(redacted.url, /response-content-disposition=inline$/, 'other parameters stay, for support')
  t.ok(text.includes('"note"'), 'a secret shorter than 6 characters ("ab") is not searched for by value')
  t.equal(
    raw.requestBody && (raw.requestBody as { client_secret: string }).client_secret,
    'the-client-secret',
    'the original is untouched',
  )
})

t.test('existing: version and target.fields need their fields updateable on the file object', async (t) => {
  const versioned = configWith([
    {
      name: 'catalogue',
      kind: 'inbound',
      source: { endpoint: 'partner', directory: '/in' },
      match: [
        {
          type: 'filename',
          pattern: '^(?<ProductCode>[A-Z]+-\\d+)_(?<lang>[a-z]{2})',
          object: 'Product2',
          lookup: ['ProductCode'],
        },
      ],
      target: {
        fileObject: 'Product_File__c',
        parentField: 'Parent__c',
        fields: { Language__c: '{lang}' },
      },
      existing: 'version',
      after: { success: 'delete', errorDirectory: '/errors' },
    },
  ])
  const needs = orgNeeds(versioned)
  t.match(
    needs.filter((n) => n.object === 'Product_File__c' && n.access === 'update'),
    [
      { field: 'Language__c', path: ['flows', 0, 'target', 'fields', 'Language__c'] },
      { field: 'Is_Latest_Version__c', path: ['flows', 0, 'existing'] },
    ],
  )
  t.notOk(
    needs.some((n) => n.object === 'Product2' && n.field === 'lang'),
    'a group outside lookup names no field of the looked-up object',
  )
})
