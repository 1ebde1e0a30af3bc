import { generateKeyPairSync, verify } from 'node:crypto'
import t from 'tap'
import { buildJwtAssertion, parseLimitInfo } from '../../src/adapters/salesforce/index.js'
import { parseCompleteAnswer } from '../../src/adapters/sdrive/complete-result.js'
import {
  asciiFallback,
  contentDisposition,
  encodeRfc5987,
} from '../../src/adapters/sdrive/content-disposition.js'
import { buildMultipartFrame } from '../../src/adapters/sdrive/multipart.js'
import { fileQueries, toSDriveFile } from '../../src/adapters/sdrive/queries.js'
import {
  buildFormFields,
  buildUploadRequest,
  matchAnswers,
  parseUploadAnswer,
} from '../../src/adapters/sdrive/upload-request.js'
import { QUERY_URL_BUDGET } from '../../src/domain/soql.js'

const info = {
  fileName: 'a.pdf',
  fileLocation: '500000000000001AAA/a.pdf',
  fileType: 'application/pdf',
  wipFileId: 'a0X000000000001AAA',
  signature: 'sig',
  policy: Buffer.from(
    JSON.stringify({
      conditions: [
        { bucket: 'b' },
        { acl: 'private' },
        ['eq', '$success_action_status', '201'],
        ['starts-with', '$key', '500'],
      ],
    }),
  ).toString('base64'),
  timeStamp: '20250101T000000Z',
  awsCredential: 'AKIA/20250101/us-east-1/s3/aws4_request',
  metadataHeaders: { 'x-amz-meta-source': 'ftp', flow: 'in' },
  s3EncryptionType: 'AES256',
}

t.test('Content-Disposition keeps the policy prefix and encodes odd names', async (t) => {
  t.equal(contentDisposition('report.pdf'), 'attachment; filename="report.pdf"')
  const quoted = contentDisposition('say "hi".txt')
  t.ok(quoted.startsWith('attachment; filename'))
  t.equal(quoted, `attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`)
  const unicode = contentDisposition('Résumé 文件.pdf')
  t.equal(
    unicode,
    `attachment; filename="Resume __.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%E6%96%87%E4%BB%B6.pdf`,
  )
  t.equal(encodeRfc5987("it's (1)*"), 'it%27s%20%281%29%2A')
  t.equal(asciiFallback('文件'), '__')
  t.equal(asciiFallback(''), 'file')
  t.ok(contentDisposition('back\\slash').includes("filename*=UTF-8''back%5Cslash"))
})

t.test('upload request body and lenient answer parsing', async (t) => {
  const target = { parentId: '500000000000001AAA', fileObject: 'cg__CaseFile__c', parentField: 'cg__Case__c' }
  const body = buildUploadRequest(target, [
    { fileName: 'a.pdf', sizeBytes: 12, contentType: 'application/pdf' },
  ])
  t.same(body, {
    objectId: target.parentId,
    multipartUpload: false,
    fileType: 'cg__CaseFile__c',
    fileProperties: [
      {
        fileName: 'a.pdf',
        fileLocation: '',
        description: '',
        relationshipFieldName: 'cg__Case__c',
        fileType: 'application/pdf',
        fileSizeInBytes: '12',
      },
    ],
    policyMap: {},
  })
  t.equal(parseUploadAnswer([info]).length, 1)
  t.equal(parseUploadAnswer({ uploadRequestInfo: [info] })[0]?.wipFileId, info.wipFileId)
  t.equal(
    parseUploadAnswer(JSON.stringify({ uploadRequestInfo: [info] }))[0]?.fileLocation,
    info.fileLocation,
  )
  t.throws(() => parseUploadAnswer({ nothing: true }), { code: 'SDRIVE_ERROR' })
  t.throws(() => parseUploadAnswer('<html>'), { code: 'SDRIVE_ERROR' })
  t.throws(() => parseUploadAnswer([{ fileName: 'x' }]), { code: 'SDRIVE_ERROR' })
  const specs = [
    { fileName: 'b.txt', sizeBytes: 1, contentType: 'text/plain' },
    { fileName: 'a.pdf', sizeBytes: 1, contentType: 'application/pdf' },
    { fileName: 'c.txt', sizeBytes: 1, contentType: 'text/plain' },
  ]
  const answers = parseUploadAnswer([
    { ...info, fileName: 'a.pdf', wipFileId: 'A' },
    { ...info, fileName: 'renamed.txt', wipFileId: 'X' },
    { ...info, fileName: 'b.txt', wipFileId: 'B' },
  ])
  t.same(
    matchAnswers(specs, answers).map((a) => a.wipFileId),
    ['B', 'A', 'X'],
    'by name, leftovers by order',
  )
  t.throws(() => matchAnswers(specs, answers.slice(0, 1)), { code: 'SDRIVE_ERROR' })
})

t.test('form fields come in the documented order', async (t) => {
  const [parsed] = parseUploadAnswer([info])
  const fields = buildFormFields(parsed!, { fileName: 'a.pdf', sizeBytes: 1, contentType: 'text/plain' })
  t.same(
    fields.map(([n]) => n),
    [
      'key',
      'Content-Type',
      'Content-Disposition',
      'x-amz-meta-source',
      'x-amz-meta-flow',
      'x-amz-server-side-encryption',
      'acl',
      'success_action_status',
      'x-amz-algorithm',
      'x-amz-credential',
      'x-amz-date',
      'policy',
      'x-amz-signature',
    ],
  )
  t.same(fields[1], ['Content-Type', 'application/pdf'])
  t.same(fields[8], ['x-amz-algorithm', 'AWS4-HMAC-SHA256'])
  const [plain] = parseUploadAnswer([
    { ...info, s3EncryptionType: null, metadataHeaders: null, policy: 'bm90IGpzb24=' },
  ])
  const names = buildFormFields(plain!, { fileName: 'a.pdf', sizeBytes: 1, contentType: 'text/plain' }).map(
    ([n]) => n,
  )
  t.notOk(names.includes('x-amz-server-side-encryption'), 'no SSE field when s3EncryptionType is null')
  t.equal(names.length, 8)
})

t.test('complete answers in their many shapes', async (t) => {
  const ids = ['w1', 'w2']
  t.same(parseCompleteAnswer(ids, null), [
    { wipFileId: 'w1', success: true },
    { wipFileId: 'w2', success: true },
  ])
  t.same(parseCompleteAnswer(ids, ''), parseCompleteAnswer(ids, {}))
  t.same(
    parseCompleteAnswer(ids, {
      resultObjects: [
        { wipId: 'w2', status: 'Success' },
        { wipFileId: 'w1', success: false, message: 'boom' },
      ],
    }),
    [
      { wipFileId: 'w1', success: false, message: 'boom' },
      { wipFileId: 'w2', success: true },
    ],
  )
  t.same(parseCompleteAnswer(ids, [{ fileObjectId: 'w1', status: 'error', errors: [{ message: 'x' }] }]), [
    { wipFileId: 'w1', success: false, message: 'x' },
    { wipFileId: 'w2', success: false, message: 'S-Drive returned no result for this file' },
  ])
  t.same(
    parseCompleteAnswer(ids, JSON.stringify({ resultObjects: [{ success: true }, { statusCode: 500 }] })),
    [
      { wipFileId: 'w1', success: true },
      { wipFileId: 'w2', success: false },
    ],
    'positional when results carry no ids',
  )
  t.same(parseCompleteAnswer(['w1'], { results: [{ id: 'w1' }] }), [{ wipFileId: 'w1', success: true }])
})

t.test('multipart frame length is exact', async (t) => {
  const frame = buildMultipartFrame(
    [
      ['key', 'k'],
      ['x-amz-meta-n', 'ü'],
    ],
    'ä.bin',
    'application/octet-stream',
    10,
    'BOUNDARY',
  )
  t.equal(frame.contentLength, frame.preamble.length + 10 + frame.epilogue.length)
  t.match(
    frame.preamble.toString(),
    /name="file"; filename="a\.bin"\r\nContent-Type: application\/octet-stream\r\n\r\n$/,
  )
  t.equal(frame.epilogue.toString(), '\r\n--BOUNDARY--\r\n')
})

t.test('file queries respect the URL budget and namespace', async (t) => {
  const parents = Array.from({ length: 3000 }, (_, i) => `500${String(i).padStart(15, '0')}`)
  const names = Array.from({ length: 800 }, (_, i) => `Dokument ${i} – é.pdf`)
  const queries = fileQueries('cg__CaseFile__c', 'cg__Case__c', parents, false, names)
  t.ok(queries.length > 2)
  for (const q of queries) {
    t.ok(encodeURIComponent(q).length <= QUERY_URL_BUDGET)
    t.match(
      q,
      /^SELECT Id, cg__Case__c, cg__File_Name__c, cg__File_Size_in_Bytes__c, cg__Key__c, cg__Parent_Folder_Id__c, cg__Content_Type__c FROM cg__CaseFile__c WHERE cg__Case__c IN \(/,
    )
    t.match(
      q,
      /AND \(cg__WIP__c = false AND cg__Is_Deleted__c = false AND cg__Content_Type__c != 'Folder' AND cg__File_Name__c IN \(/,
    )
  }
  const custom = fileQueries('Invoice_File__c', 'Parent__c', ['a', 'a'], true)
  t.same(custom, [
    "SELECT Id, Parent__c, File_Name__c, File_Size_in_Bytes__c, Key__c, Parent_Folder_Id__c, Content_Type__c FROM Invoice_File__c WHERE Parent__c IN ('a') AND (WIP__c = true AND Is_Deleted__c = false AND Content_Type__c != 'Folder')",
  ])
  t.same(fileQueries('X__c', 'P__c', [], false), [])
  t.same(fileQueries('X__c', 'P__c', ['a'], false, []), [])
  t.same(
    toSDriveFile(
      {
        Id: 'f',
        P__c: 'p',
        File_Name__c: 'n',
        File_Size_in_Bytes__c: '12',
        Key__c: '',
        Parent_Folder_Id__c: null,
      },
      'X__c',
      'P__c',
    ),
    { id: 'f', parentId: 'p', fileName: 'n', sizeBytes: 12, key: null, folderId: null, contentType: null },
  )
})

t.test('JWT assertion and limit header', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const jwt = buildJwtAssertion(
    { clientId: 'cid', username: 'u@x', audience: 'https://login.salesforce.com', privateKey: pem },
    1_700_000_000_000,
  )
  const [h, c, s] = jwt.split('.') as [string, string, string]
  t.same(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'RS256' })
  t.same(JSON.parse(Buffer.from(c, 'base64url').toString()), {
    iss: 'cid',
    sub: 'u@x',
    aud: 'https://login.salesforce.com',
    exp: 1_700_000_180,
  })
  t.ok(verify('RSA-SHA256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url')))
  t.throws(
    () => buildJwtAssertion({ clientId: 'c', username: 'u', audience: 'a', privateKey: 'not a key' }),
    {
      code: 'SALESFORCE_AUTH_FAILED',
    },
  )
  t.same(parseLimitInfo('api-usage=25/15000'), { used: 25, limit: 15000 })
  t.same(parseLimitInfo('per-app-api-usage=1/2(appName=x), api-usage=7/100'), { used: 7, limit: 100 })
  t.equal(parseLimitInfo(undefined), null)
  t.equal(parseLimitInfo('nothing'), null)
})
