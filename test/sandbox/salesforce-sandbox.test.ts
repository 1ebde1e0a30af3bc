import { generateKeyPairSync, sign } from 'node:crypto'
import t from 'tap'
import { SALESFORCE_FAULTS, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'
import type { SalesforceSandbox } from '../../src/sandbox/salesforce/types.js'

type Json = Record<string, unknown>

function rsaPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
}

function jwt(claims: Json, privateKey: string, alg = 'RS256'): string {
  const part = (value: Json) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const unsigned = `${part({ alg })}.${part(claims)}`
  return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), privateKey).toString('base64url')}`
}

const keys = rsaPair()
const strangerKeys = rsaPair()
let clockOffset = 0
const now = () => Date.now() + clockOffset
const sandbox = await startSalesforceSandbox({ jwtPublicKeys: { 'jwt-app': keys.publicKey }, now })
t.teardown(() => sandbox.close())
const V = '/services/data/v63.0'

async function tokenRequest(
  sb: SalesforceSandbox,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${sb.url}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

async function login(sb: SalesforceSandbox): Promise<string> {
  const { body } = await tokenRequest(sb, {
    grant_type: 'client_credentials',
    client_id: sb.clientId,
    client_secret: sb.clientSecret,
  })
  return String(body.access_token)
}

const token = await login(sandbox)

async function call(path: string, init: RequestInit & { json?: unknown } = {}, sb = sandbox, bearer = token) {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${bearer}`)
  let body = init.body
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json')
    body = JSON.stringify(init.json)
  }
  const res = await fetch(`${sb.url}${path}`, { ...init, headers, body })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  }
}

const query = (soql: string, headers: Record<string, string> = {}) =>
  call(`${V}/query?q=${encodeURIComponent(soql)}`, { headers })
const rows = (body: unknown) => (body as { records: Json[] }).records

t.test('client_credentials: body and Basic auth, bad secret, bad id, bad grant', async (t) => {
  const ok = await tokenRequest(sandbox, {
    grant_type: 'client_credentials',
    client_id: sandbox.clientId,
    client_secret: sandbox.clientSecret,
  })
  t.equal(ok.status, 200)
  t.equal(ok.body.instance_url, sandbox.url)
  t.equal(ok.body.id, `${sandbox.url}/id/${sandbox.orgId}/005000000000001AAA`)
  t.equal(ok.body.token_type, 'Bearer')
  t.match(ok.body.issued_at, /^\d{13}$/)
  t.type(ok.body.signature, 'string')
  t.type(ok.body.scope, 'string')

  const basic = Buffer.from(`${sandbox.clientId}:${sandbox.clientSecret}`).toString('base64')
  const viaBasic = await tokenRequest(
    sandbox,
    { grant_type: 'client_credentials' },
    { authorization: `Basic ${basic}` },
  )
  t.equal(viaBasic.status, 200)

  const badSecret = await tokenRequest(sandbox, {
    grant_type: 'client_credentials',
    client_id: sandbox.clientId,
    client_secret: 'nope',
  })
  t.same([badSecret.status, badSecret.body.error], [400, 'invalid_client_credentials'])
  t.type(badSecret.body.error_description, 'string')
  const badId = await tokenRequest(sandbox, {
    grant_type: 'client_credentials',
    client_id: 'x',
    client_secret: 'y',
  })
  t.same([badId.status, badId.body.error], [400, 'invalid_client_id'])
  const badGrant = await tokenRequest(sandbox, { grant_type: 'password' })
  t.same([badGrant.status, badGrant.body.error], [400, 'unsupported_grant_type'])
})

t.test('JWT bearer: verified RS256, audience, expiry, subject', async (t) => {
  const exp = () => Math.floor(now() / 1000) + 120
  const claims = {
    iss: 'jwt-app',
    sub: 'integration@example.com',
    aud: 'https://login.salesforce.com',
    exp: exp(),
  }
  const grant = (assertion: string) =>
    tokenRequest(sandbox, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion })

  const ok = await grant(jwt(claims, keys.privateKey))
  t.equal(ok.status, 200)
  const probe = await call(`${V}/limits`, {}, sandbox, String(ok.body.access_token))
  t.equal(probe.status, 200, 'the JWT token works on the API')
  t.equal(
    (await grant(jwt({ ...claims, aud: sandbox.url }, keys.privateKey))).status,
    200,
    'sandbox url is an audience',
  )

  const cases: [string, string, string][] = [
    [jwt(claims, strangerKeys.privateKey), 'invalid_grant', 'signed with another key'],
    [jwt({ ...claims, aud: 'https://evil.example.com' }, keys.privateKey), 'invalid_grant', 'wrong audience'],
    [jwt({ ...claims, exp: Math.floor(now() / 1000) - 5 }, keys.privateKey), 'invalid_grant', 'expired'],
    [
      jwt({ ...claims, exp: Math.floor(now() / 1000) + 3600 }, keys.privateKey),
      'invalid_grant',
      'exp too far ahead',
    ],
    [jwt({ ...claims, sub: '' }, keys.privateKey), 'invalid_grant', 'no subject'],
    [jwt(claims, keys.privateKey, 'HS256'), 'invalid_grant', 'not RS256'],
    [jwt({ ...claims, iss: 'unknown-app' }, keys.privateKey), 'invalid_client_id', 'unknown consumer key'],
    ['not.a.jwt', 'invalid_grant', 'garbage'],
  ]
  for (const [assertion, error, why] of cases) {
    const res = await grant(assertion)
    t.same([res.status, res.body.error], [400, error], why)
  }
})

t.test('sessions: missing, expired by TTL, expireSessions → 401 INVALID_SESSION_ID', async (t) => {
  let offset = 0
  const sb = await startSalesforceSandbox({ sessionTtlMs: 60_000, now: () => Date.now() + offset })
  t.teardown(() => sb.close())
  const bearer = await login(sb)
  t.equal((await call(`${V}/limits`, {}, sb, bearer)).status, 200)
  const expected = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]

  const missing = await call(`${V}/limits`, {}, sb, 'bogus')
  t.same([missing.status, missing.body], [401, expected])
  offset = 61_000
  const expired = await call(`${V}/query?q=SELECT+Id+FROM+Account`, {}, sb, bearer)
  t.same([expired.status, expired.body], [401, expected])
  const apex = await call('/services/apexrest/cg/SDrive/files?fileObjectId=x', {}, sb, bearer)
  t.same([apex.status, apex.body], [401, expected], 'apex REST checks the session first')

  const fresh = await login(sb)
  t.equal((await call(`${V}/limits`, {}, sb, fresh)).status, 200)
  sb.expireSessions()
  t.same((await call(`${V}/limits`, {}, sb, fresh)).status, 401)
})

t.test('API usage header and REQUEST_LIMIT_EXCEEDED', async (t) => {
  const sb = await startSalesforceSandbox({ dailyApiLimit: 3 })
  t.teardown(() => sb.close())
  const bearer = await login(sb)
  const first = await call(`${V}/limits`, {}, sb, bearer)
  t.equal(first.headers.get('sforce-limit-info'), 'api-usage=1/3')
  await call(`${V}/limits`, {}, sb, bearer)
  await call(`${V}/limits`, {}, sb, bearer)
  const refused = await call(`${V}/limits`, {}, sb, bearer)
  t.equal(refused.status, 403)
  t.same(refused.body, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }])
  t.equal(refused.headers.get('sforce-limit-info'), 'api-usage=3/3')
  sb.setApiUsage(0)
  t.equal((await call(`${V}/limits`, {}, sb, bearer)).status, 200, 'setApiUsage resets the counter')
  t.equal(sb.apiCallCount(), 5, 'every API call counted, tokens excluded')
  t.equal(sb.calls.token, 1)
  t.equal(sb.calls.limits, 5)
})

t.test('SOQL: escapes, IN, LIKE, relationships, ordering, counts, errors', async (t) => {
  const acme = sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'A-100' })
  const globex = sandbox.insert('Account', { Name: 'Globex', AccountNumber: 'G-200' })
  sandbox.insert('Contact', { LastName: "O'Brien", AccountId: acme, Email: 'ob@example.com' })
  sandbox.insert('Contact', { LastName: 'Back\\slash', AccountId: globex })
  sandbox.insert('Contact', { LastName: 'under_score', AccountId: null })
  sandbox.insert('Contact', { LastName: 'underXscore' })
  const file = sandbox.insert('cg__AccountFile__c', {
    cg__Account__c: acme,
    cg__File_Name__c: 'a.pdf',
    cg__WIP__c: false,
  })

  const obrien = await query(
    "SELECT Id, LastName, Account.AccountNumber FROM Contact WHERE LastName = 'O\\'Brien'",
  )
  t.equal(obrien.status, 200)
  t.equal(rows(obrien.body).length, 1)
  t.match(rows(obrien.body)[0], {
    attributes: { type: 'Contact', url: /^\/services\/data\/v63\.0\/sobjects\/Contact\/003/ },
    LastName: "O'Brien",
    Account: { attributes: { type: 'Account' }, AccountNumber: 'A-100' },
  })
  t.equal(
    rows((await query("SELECT Id FROM Contact WHERE LastName = 'o\\'brien'")).body).length,
    1,
    '= ignores case',
  )
  t.equal(rows((await query("SELECT Id FROM Contact WHERE LastName = 'Back\\\\slash'")).body).length, 1)

  const like = await query("SELECT LastName FROM Contact WHERE LastName LIKE 'under\\_%'")
  t.same(
    rows(like.body).map((r) => r.LastName),
    ['under_score'],
    '\\_ is a literal underscore in LIKE',
  )
  const likeAny = await query(
    "SELECT LastName FROM Contact WHERE LastName LIKE 'under_score' ORDER BY LastName",
  )
  t.same(
    rows(likeAny.body).map((r) => r.LastName),
    ['under_score', 'underXscore'],
  )

  const inList = await query(
    `SELECT Name FROM Account WHERE Id IN ('${acme.slice(0, 15)}', '${globex}') ORDER BY Name DESC`,
  )
  t.same(
    rows(inList.body).map((r) => r.Name),
    ['Globex', 'Acme'],
    'IN with 15- and 18-char ids',
  )
  const notIn = await query(`SELECT Name FROM Account WHERE Id NOT IN ('${acme}') AND Name != null`)
  t.ok(rows(notIn.body).every((r) => r.Name !== 'Acme'))

  const nested = await query(
    "SELECT LastName FROM Contact WHERE (LastName = 'x' OR Account.Name = 'Globex') AND NOT Email != null",
  )
  t.same(
    rows(nested.body).map((r) => r.LastName),
    ['Back\\slash'],
  )
  const nullParent = await query("SELECT LastName, Account.Name FROM Contact WHERE LastName = 'under_score'")
  t.same(rows(nullParent.body)[0]?.Account, null, 'an empty lookup projects as null')

  const viaCustom = await query(
    `SELECT Id, cg__File_Name__c, cg__Account__r.Name FROM cg__AccountFile__c WHERE cg__Account__c = '${acme}' AND cg__WIP__c = false`,
  )
  t.match(rows(viaCustom.body), [{ Id: file, cg__File_Name__c: 'a.pdf', cg__Account__r: { Name: 'Acme' } }])

  const paged = await query(
    "SELECT Name FROM Account WHERE Name IN ('Acme', 'Globex') ORDER BY Name LIMIT 1 OFFSET 1",
  )
  t.same(
    rows(paged.body).map((r) => r.Name),
    ['Globex'],
  )
  const count = await query("SELECT COUNT() FROM Account WHERE Name LIKE 'a%'")
  t.match(count.body, { totalSize: 1, done: true, records: [] })

  const semi = await query(
    "SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName LIKE 'O%')",
  )
  t.same(
    rows(semi.body).map((r) => r.Name),
    ['Acme'],
    'semi-join subquery',
  )

  const malformed = await query('SELEC Id FROM Account')
  t.equal(malformed.status, 400)
  t.match(malformed.body, [{ errorCode: 'MALFORMED_QUERY', message: String }])
  t.match((await query('SELECT Nope__c FROM Account')).body, [{ errorCode: 'INVALID_FIELD' }])
  t.match((await query('SELECT Id FROM Contact WHERE Account.Nope = 1')).body, [
    { errorCode: 'INVALID_FIELD' },
  ])
  t.match((await query('SELECT Id FROM NoSuchThing')).body, [{ errorCode: 'INVALID_TYPE' }])
  t.match((await query("SELECT Id FROM Account WHERE Name = 'bad\\q'")).body, [
    { errorCode: 'MALFORMED_QUERY' },
  ])
  const missingQ = await call(`${V}/query`)
  t.match([missingQ.status, missingQ.body], [400, [{ errorCode: 'MALFORMED_QUERY' }]])
})

t.test('query paging: three pages through nextRecordsUrl, queryAll sees deleted rows', async (t) => {
  for (let i = 0; i < 450; i++)
    sandbox.insert('Invoice__c', { Name: `inv-${String(i).padStart(3, '0')}`, Amount__c: i })
  const before = sandbox.calls.queryMore ?? 0
  let page = await query('SELECT Id, Name FROM Invoice__c ORDER BY Name', {
    'Sforce-Query-Options': 'batchSize=200',
  })
  const names: string[] = []
  const sizes: number[] = []
  for (;;) {
    const body = page.body as { totalSize: number; done: boolean; nextRecordsUrl?: string; records: Json[] }
    t.equal(body.totalSize, 450)
    sizes.push(body.records.length)
    names.push(...body.records.map((r) => String(r.Name)))
    if (body.done) {
      t.notOk('nextRecordsUrl' in body, 'no nextRecordsUrl on the last page')
      break
    }
    t.match(body.nextRecordsUrl, /^\/services\/data\/v63\.0\/query\/[^/]+-\d+$/)
    page = await call(body.nextRecordsUrl!)
  }
  t.same(sizes, [200, 200, 50])
  t.equal(new Set(names).size, 450)
  t.equal(names[0], 'inv-000')
  t.equal((sandbox.calls.queryMore ?? 0) - before, 2, 'each continuation is a queryMore call')
  t.match((await call(`${V}/query/01gdoesnotexist-200`)).body, [{ errorCode: 'INVALID_QUERY_LOCATOR' }])

  const small = await query('SELECT Id FROM Invoice__c', { 'Sforce-Query-Options': 'batchSize=10' })
  t.equal(rows(small.body).length, 200, 'batchSize is clamped to 200..2000')
  const big = await query('SELECT Id FROM Invoice__c WHERE Amount__c >= 100 AND Amount__c < 110')
  t.equal(rows(big.body).length, 10, 'numeric comparisons')

  const victim = String(rows(big.body)[0]?.Id)
  t.equal((await call(`${V}/sobjects/Invoice__c/${victim}`, { method: 'DELETE' })).status, 204)
  const live = await query('SELECT COUNT() FROM Invoice__c')
  t.equal((live.body as Json).totalSize, 449)
  const all = await call(
    `${V}/queryAll?q=${encodeURIComponent('SELECT Id, IsDeleted FROM Invoice__c WHERE IsDeleted = true')}`,
  )
  t.same(
    rows(all.body).map((r) => r.Id),
    [victim],
  )
})

t.test('sObject rows: create, read, update, delete, errors', async (t) => {
  const created = await call(`${V}/sobjects/Account`, {
    method: 'POST',
    json: { Name: 'Initech', AccountNumber: 'I-1' },
  })
  t.equal(created.status, 201)
  t.match(created.body, { id: /^001[a-zA-Z0-9]{15}$/, success: true, errors: [] })
  const id = (created.body as { id: string }).id
  const read = await call(`${V}/sobjects/Account/${id}?fields=Name,AccountNumber`)
  t.same(read.body, {
    attributes: { type: 'Account', url: `${V}/sobjects/Account/${id}` },
    Name: 'Initech',
    AccountNumber: 'I-1',
  })
  t.equal((await call(`${V}/sobjects/Account/${id.slice(0, 15)}`)).status, 200, '15-char id works')
  t.equal(
    (await call(`${V}/sobjects/Account/${id}`, { method: 'PATCH', json: { Name: 'Initrode' } })).status,
    204,
  )
  t.equal(sandbox.records('Account').find((r) => r.Id === id)?.Name, 'Initrode')
  const badField = await call(`${V}/sobjects/Account`, { method: 'POST', json: { Bogus__c: 1 } })
  t.match([badField.status, badField.body], [400, [{ errorCode: 'INVALID_FIELD' }]])
  const readOnly = await call(`${V}/sobjects/Account/${id}`, { method: 'PATCH', json: { CreatedDate: 'x' } })
  t.match(readOnly.body, [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE' }])
  t.equal((await call(`${V}/sobjects/Account/${id}`, { method: 'DELETE' })).status, 204)
  const gone = await call(`${V}/sobjects/Account/${id}`)
  t.match([gone.status, gone.body], [404, [{ errorCode: 'NOT_FOUND' }]])
  t.ok(sandbox.records('Account', { includeDeleted: true }).some((r) => r.Id === id))
  t.match((await call(`${V}/sobjects/NotAThing/${id}`)).status, 404)
  const broken = await call(`${V}/sobjects/Account`, {
    method: 'POST',
    body: '{nope',
    headers: { 'content-type': 'application/json' },
  })
  t.match([broken.status, broken.body], [400, [{ errorCode: 'JSON_PARSER_ERROR' }]])
})

t.test('sObject Collections: PATCH with partial success, allOrNone rollback, DELETE, 200 cap', async (t) => {
  const a = sandbox.insert('Order', { Name: 'o1', Status: 'Draft' })
  const b = sandbox.insert('Order', { Name: 'o2', Status: 'Draft' })
  const patch = (allOrNone: boolean, records: Json[]) =>
    call(`${V}/composite/sobjects`, { method: 'PATCH', json: { allOrNone, records } })

  const partial = await patch(false, [
    { attributes: { type: 'Order' }, Id: a, Status: 'Activated' },
    { attributes: { type: 'Order' }, Id: b, Nope__c: 'x' },
  ])
  t.equal(partial.status, 200)
  t.match(partial.body, [
    { id: a, success: true, errors: [] },
    { id: b, success: false, errors: [{ statusCode: 'INVALID_FIELD' }] },
  ])
  t.equal(sandbox.records('Order').find((r) => r.Id === a)?.Status, 'Activated')

  const rolledBack = await patch(true, [
    { attributes: { type: 'Order' }, Id: b, Status: 'Activated' },
    { attributes: { type: 'Order' }, Id: `801${'0'.repeat(15)}`, Status: 'x' },
  ])
  t.match(rolledBack.body, [
    { success: false, errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }] },
    { success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED' }] },
  ])
  t.equal(sandbox.records('Order').find((r) => r.Id === b)?.Status, 'Draft', 'nothing applied')

  const tooMany = Array.from({ length: 201 }, () => ({ attributes: { type: 'Order' }, Id: a }))
  t.equal((await patch(false, tooMany)).status, 400)

  const del = await call(
    `${V}/composite/sobjects?ids=${a},${b},${a.slice(0, 3)}000000000000000&allOrNone=false`,
    {
      method: 'DELETE',
    },
  )
  t.match(del.body, [{ id: a, success: true }, { id: b, success: true }, { success: false }])
  t.equal(sandbox.records('Order').filter((r) => r.Id === a || r.Id === b).length, 0)
})

t.test('composite: references between subrequests and allOrNone rollback', async (t) => {
  const ok = await call(`${V}/composite`, {
    method: 'POST',
    json: {
      allOrNone: true,
      compositeRequest: [
        { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'acct', body: { Name: 'Composite Co' } },
        {
          method: 'POST',
          url: `${V}/sobjects/Contact`,
          referenceId: 'ct',
          body: { LastName: 'Ref', AccountId: '@{acct.id}' },
        },
        { method: 'GET', url: `${V}/sobjects/Contact/@{ct.id}?fields=AccountId`, referenceId: 'read' },
      ],
    },
  })
  const responses = (ok.body as { compositeResponse: Json[] }).compositeResponse
  t.same(
    responses.map((r) => r.httpStatusCode),
    [201, 201, 200],
  )
  const accountId = (responses[0]?.body as Json | undefined)?.id
  t.equal((responses[2]?.body as Json | undefined)?.AccountId, accountId)

  const before = sandbox.records('Account').length
  const failed = await call(`${V}/composite`, {
    method: 'POST',
    json: {
      allOrNone: true,
      compositeRequest: [
        { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'a', body: { Name: 'Doomed' } },
        { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'b', body: { Nope__c: 1 } },
        { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'c', body: { Name: 'Never' } },
      ],
    },
  })
  const codes = (failed.body as { compositeResponse: Json[] }).compositeResponse.map((r) => r.httpStatusCode)
  t.same(codes, [400, 400, 400])
  t.equal(sandbox.records('Account').length, before, 'rolled back')
})

// ---------- S-Drive + S3 ----------

interface UploadInfo {
  fileName: string
  fileLocation: string
  fileSize: string
  fileType: string
  wipFileId: string
  signature: string
  policy: string
  timeStamp: string
  awsRegion: string
  awsCredential: string
  metadataHeaders: Record<string, string>
  s3EncryptionType: string | null
}

const FILES = '/services/apexrest/cg/SDrive/files'

async function initUpload(
  sb: SalesforceSandbox,
  bearer: string,
  objectId: string,
  files: Json[],
  extra: Json = {},
) {
  return call(
    FILES,
    { method: 'POST', json: { objectId, fileType: 'cg__CaseFile__c', fileProperties: files, ...extra } },
    sb,
    bearer,
  )
}

function fileProps(fileName: string, size: number, mime = 'application/pdf'): Json {
  return {
    fileName,
    fileLocation: '',
    description: 'd',
    relationshipFieldName: 'cg__Case__c',
    fileType: mime,
    fileSizeInBytes: String(size),
  }
}

function uploadForm(
  info: UploadInfo,
  bytes: Buffer,
  override: Record<string, string | undefined> = {},
): FormData {
  const fields: Record<string, string | undefined> = {
    key: info.fileLocation,
    'Content-Disposition': `attachment; filename="${info.fileName}"`,
    'Content-Type': info.fileType,
    'x-amz-credential': info.awsCredential,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-date': info.timeStamp,
    'x-amz-server-side-encryption': info.s3EncryptionType ?? undefined,
    ...info.metadataHeaders,
    policy: info.policy,
    'x-amz-signature': info.signature,
    ...override,
  }
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value)
  form.append('file', new Blob([new Uint8Array(bytes)]), info.fileName)
  return form
}

async function s3Post(sb: SalesforceSandbox, form: FormData) {
  const res = await fetch(sb.s3UploadUrl, { method: 'POST', body: form })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

const caseId = sandbox.insert('Case', { Subject: 'with files' })

t.test('S-Drive upload: POST → S3 form POST → PUT → SOQL → GET url → same bytes', async (t) => {
  const bytes = Buffer.from('%PDF-1.7 hello s-drive '.repeat(500))
  const post = await initUpload(sandbox, token, caseId, [fileProps('report.pdf', bytes.length)])
  t.equal(post.status, 201)
  const [info] = post.body as UploadInfo[]
  t.ok(info)
  t.match(info, {
    fileName: 'report.pdf',
    fileLocation: `${caseId}/${info!.wipFileId}/report.pdf`,
    fileSize: String(bytes.length),
    fileType: 'application/pdf',
    timeStamp: /^\d{8}T\d{6}Z$/,
    awsRegion: 'us-east-1',
    awsCredential: /^AKIASANDBOX\/\d{8}\/us-east-1\/s3\/aws4_request$/,
    metadataHeaders: { 'x-amz-meta-sdrive-parent': caseId },
    s3EncryptionType: 'AES256',
    signature: /^[0-9a-f]{64}$/,
  })
  const policy = JSON.parse(Buffer.from(info!.policy, 'base64').toString()) as {
    expiration: string
    conditions: unknown[]
  }
  t.ok(Date.parse(policy.expiration) > Date.now())
  t.match(policy.conditions, [{ bucket: 'cg-sandbox-bucket' }, ['starts-with', '$key', `${caseId}/`]])
  t.ok(
    policy.conditions.some(
      (c) => JSON.stringify(c) === JSON.stringify(['content-length-range', 1, bytes.length]),
    ),
  )

  const wip = sandbox.records('cg__CaseFile__c').find((r) => r.Id === info!.wipFileId)
  t.match(wip, {
    cg__WIP__c: true,
    cg__Case__c: caseId,
    cg__File_Name__c: 'report.pdf',
    cg__Key__c: info!.fileLocation,
  })

  const upload = await s3Post(sandbox, uploadForm(info!, bytes))
  t.equal(upload.status, 204, upload.text)
  t.ok(upload.headers.get('etag'))
  t.same(await sandbox.s3Object(info!.fileLocation), bytes)

  const put = await call(FILES, { method: 'PUT', json: { wipIds: [info!.wipFileId] } })
  t.equal(put.status, 200)
  t.same(put.body, {
    resultObjects: [
      {
        wipFileId: info!.wipFileId,
        fileObjectId: info!.wipFileId,
        success: true,
        message: 'Upload completed',
      },
    ],
  })
  const listed = await query(
    `SELECT Id, cg__WIP__c, cg__File_Size__c FROM cg__CaseFile__c WHERE cg__Case__c = '${caseId}' AND cg__WIP__c = false`,
  )
  t.match(rows(listed.body), [{ Id: info!.wipFileId, cg__WIP__c: false, cg__File_Size__c: '11.23 KB' }])

  const get = await call(
    `${FILES}?fileObjectId=${encodeURIComponent(JSON.stringify([info!.wipFileId]))}&parentId=${encodeURIComponent(JSON.stringify([caseId]))}&timeValue=60&response-content-disposition=${encodeURIComponent('inline; filename=x.pdf')}`,
  )
  t.equal(get.status, 200)
  const [link] = (get.body as { fileUrls: string[] }).fileUrls
  t.match(link, /\/s3\/cg-sandbox-bucket\/.+X-Amz-Expires=60.*X-Amz-Signature=[0-9a-f]{64}$/)
  const download = await fetch(link!)
  t.equal(download.status, 200)
  t.equal(download.headers.get('content-disposition'), 'inline; filename=x.pdf', 'extra params reach the URL')
  t.same(Buffer.from(await download.arrayBuffer()), bytes)

  const ranged = await fetch(link!, { headers: { range: 'bytes=0-3' } })
  t.equal(ranged.status, 206)
  t.equal(await ranged.text(), '%PDF')

  const commaList = await call(`${FILES}?fileObjectId=${info!.wipFileId}&parentId=${caseId}&timeValue=60`)
  t.equal(commaList.status, 200, 'comma-separated lists work too')

  const tampered = link!.replace('X-Amz-Expires=60', 'X-Amz-Expires=600')
  t.equal((await fetch(tampered)).status, 403, 'tampered URL refused')
  clockOffset = 61_000
  t.teardown(() => {
    clockOffset = 0
  })
  const expired = await fetch(link!)
  t.equal(expired.status, 403, 'expired URL refused')
  t.match(await expired.text(), /<Code>AccessDenied<\/Code>/)
})

t.test('S3 POST policy enforcement', async (t) => {
  const bytes = Buffer.alloc(1000, 7)
  const fresh = async () => {
    const post = await initUpload(sandbox, token, caseId, [
      fileProps('p.bin', bytes.length, 'application/octet-stream'),
    ])
    return (post.body as UploadInfo[])[0]!
  }
  const info = await fresh()

  const policy = JSON.parse(Buffer.from(info.policy, 'base64').toString()) as { conditions: unknown[] }
  policy.conditions = policy.conditions.map((c) =>
    Array.isArray(c) && c[0] === 'content-length-range' ? ['content-length-range', 1, 10 ** 9] : c,
  )
  const tampered = await s3Post(
    sandbox,
    uploadForm(info, bytes, { policy: Buffer.from(JSON.stringify(policy)).toString('base64') }),
  )
  t.equal(tampered.status, 403, 'tampered policy')
  t.match(tampered.text, /<Code>SignatureDoesNotMatch<\/Code>/)

  const wrongSig = await s3Post(sandbox, uploadForm(info, bytes, { 'x-amz-signature': '0'.repeat(64) }))
  t.equal(wrongSig.status, 403, 'wrong signature')

  const wrongKey = await s3Post(sandbox, uploadForm(info, bytes, { key: `elsewhere/${info.fileName}` }))
  t.match(
    [wrongKey.status, wrongKey.text],
    [403, /Policy Condition failed.*\$key/],
    'key outside the parent folder',
  )

  const wrongType = await s3Post(sandbox, uploadForm(info, bytes, { 'Content-Type': 'text/html' }))
  t.equal(wrongType.status, 403, 'Content-Type must match')

  const extra = await s3Post(sandbox, uploadForm(info, bytes, { 'x-amz-meta-sneaky': 'yes' }))
  t.match([extra.status, extra.text], [403, /Extra input fields: x-amz-meta-sneaky/])

  const missingField = await s3Post(sandbox, uploadForm(info, bytes, { 'x-amz-date': undefined }))
  t.equal(missingField.status, 400)

  const oversize = await s3Post(sandbox, uploadForm(info, Buffer.alloc(1001, 1)))
  t.match([oversize.status, oversize.text], [400, /<Code>EntityTooLarge<\/Code>/])
  const empty = await s3Post(sandbox, uploadForm(info, Buffer.alloc(0)))
  t.match([empty.status, empty.text], [400, /<Code>EntityTooSmall<\/Code>/])
  t.notOk(sandbox.s3Keys().includes(info.fileLocation), 'nothing stored by refused uploads')

  clockOffset = 2 * 60 * 60 * 1000
  const expired = await s3Post(sandbox, uploadForm(info, bytes))
  clockOffset = 0
  t.match([expired.status, expired.text], [403, /<Code>AccessDenied<\/Code>.*Policy expired/s])

  const shorter = await s3Post(sandbox, uploadForm(info, Buffer.alloc(999, 1)))
  t.equal(shorter.status, 204, 'a shorter upload passes S3 ...')
  const put = await call(FILES, { method: 'PUT', json: { wipIds: [info.wipFileId] } })
  t.match(
    put.body,
    { resultObjects: [{ wipFileId: info.wipFileId, success: false, message: /Size mismatch/ }] },
    '... but not PUT',
  )

  const notUploaded = await fresh()
  const missing = await call(FILES, { method: 'PUT', json: { wipIds: [notUploaded.wipFileId] } })
  t.match(missing.body, { resultObjects: [{ success: false, message: /not found in S3/ }] })
  const unknown = await call(FILES, { method: 'PUT', json: { wipIds: [`a0X${'1'.repeat(15)}`] } })
  t.match([unknown.status, unknown.body], [404, [{ errorCode: 'NOT_FOUND' }]])
})

t.test('S-Drive POST validation and response shapes', async (t) => {
  const post = (body: unknown) => call(FILES, { method: 'POST', json: body })
  t.equal(
    (await initUpload(sandbox, token, `500${'9'.repeat(15)}`, [fileProps('a.pdf', 1)])).status,
    404,
    'unknown parent',
  )
  t.equal((await initUpload(sandbox, token, caseId, [])).status, 412, 'no files')
  t.equal((await initUpload(sandbox, token, caseId, [{ fileName: 'a.pdf' }])).status, 412, 'no size')
  t.equal((await initUpload(sandbox, token, caseId, [fileProps('a:b.pdf', 1)])).status, 406, 'bad name')
  t.equal((await initUpload(sandbox, token, caseId, [fileProps('a~b.pdf', 1)])).status, 406, 'tilde')
  t.equal((await initUpload(sandbox, token, caseId, [fileProps('zero.pdf', 0)])).status, 422, 'empty file')
  t.equal((await post({ objectId: caseId })).status, 412, 'fileProperties missing')
  const malformed = await call(FILES, {
    method: 'POST',
    body: '{"objectId":',
    headers: { 'content-type': 'application/json' },
  })
  t.match([malformed.status, malformed.body], [403, [{ errorCode: String, message: String }]])
  const before = sandbox.records('cg__CaseFile__c').length
  t.equal(
    (await initUpload(sandbox, token, caseId, [fileProps('ok.pdf', 5), fileProps('bad|.pdf', 5)])).status,
    406,
  )
  t.equal(sandbox.records('cg__CaseFile__c').length, before, 'a rejected batch creates no records')

  const small = await startSalesforceSandbox({ maxFileSizeBytes: 10, postResponseShape: 'wrapped' })
  t.teardown(() => small.close())
  const smallToken = await login(small)
  const parent = small.insert('Case', { Subject: 's' })
  t.equal(
    (await initUpload(small, smallToken, parent, [fileProps('big.pdf', 11)])).status,
    422,
    'over the max size',
  )
  const wrapped = await initUpload(small, smallToken, parent, [fileProps('fits.pdf', 10)])
  t.equal(wrapped.status, 201)
  t.match(wrapped.body, { uploadRequestInfo: [{ fileName: 'fits.pdf', fileSize: '10' }] })

  const custom = await call(FILES, {
    method: 'POST',
    json: {
      objectId: caseId,
      fileType: 'Invoice_File__c',
      fileProperties: [
        {
          fileName: 'c.txt',
          fileSizeInBytes: '3',
          relationshipFieldName: 'Parent__c',
          fileLocation: 'a0Xfolder',
        },
      ],
    },
  })
  t.equal(custom.status, 201)
  t.match(sandbox.records('Invoice_File__c'), [
    { File_Name__c: 'c.txt', Parent__c: caseId, WIP__c: true, Parent_Folder_Id__c: 'a0Xfolder' },
  ])
  t.equal(
    (await query('SELECT Id, File_Name__c, Tags__c FROM Invoice_File__c')).status,
    200,
    'custom file objects get the S-Drive schema',
  )
})

t.test('S-Drive GET and DELETE', async (t) => {
  const bytes = Buffer.from('done')
  const post = await initUpload(sandbox, token, caseId, [
    fileProps('keep.txt', 4, 'text/plain'),
    fileProps('wip.txt', 4, 'text/plain'),
  ])
  const [done, wip] = post.body as UploadInfo[]
  await s3Post(sandbox, uploadForm(done!, bytes))
  await s3Post(sandbox, uploadForm(wip!, bytes))
  await call(FILES, { method: 'PUT', json: { wipIds: [done!.wipFileId] } })

  const mismatch = await call(
    `${FILES}?fileObjectId=${done!.wipFileId},${wip!.wipFileId}&parentId=${caseId}&timeValue=60`,
  )
  t.equal(mismatch.status, 422, 'lists of different length')
  const unknown = await call(`${FILES}?fileObjectId=a0X${'2'.repeat(15)}&parentId=${caseId}&timeValue=60`)
  t.equal(unknown.status, 404)
  const wrongParent = await call(
    `${FILES}?fileObjectId=${done!.wipFileId}&parentId=${`500${'3'.repeat(15)}`}&timeValue=60`,
  )
  t.equal(wrongParent.status, 422)

  const del = await call(
    `${FILES}?objectId=${caseId}&fileObjectId=${encodeURIComponent(JSON.stringify([done!.wipFileId, wip!.wipFileId]))}`,
    {
      method: 'DELETE',
    },
  )
  t.equal(del.status, 200)
  t.match(del.body, {
    resultObjects: [
      { fileObjectId: done!.wipFileId, success: true },
      { fileObjectId: wip!.wipFileId, success: true },
    ],
  })
  const files = sandbox.records('cg__CaseFile__c')
  t.match(
    files.find((r) => r.Id === done!.wipFileId),
    { cg__Is_Deleted__c: true },
    'finished file goes to the recycle bin',
  )
  t.notOk(
    files.some((r) => r.Id === wip!.wipFileId),
    'WIP record removed',
  )
  t.notOk(sandbox.s3Keys().includes(wip!.fileLocation), 'WIP bytes removed')
  t.ok(sandbox.s3Keys().includes(done!.fileLocation), 'finished bytes kept')
  t.equal(
    (await call(`${FILES}?objectId=${caseId}&fileObjectId=${wip!.wipFileId}`, { method: 'DELETE' })).status,
    404,
  )
  t.equal(
    (await call(`${FILES}?fileObjectId=${done!.wipFileId}&parentId=${caseId}`)).status,
    404,
    'deleted files have no URL',
  )
})

t.test('versioned bucket returns x-amz-version-id, recorded by PUT', async (t) => {
  const sb = await startSalesforceSandbox({ versionedBucket: true })
  t.teardown(() => sb.close())
  const bearer = await login(sb)
  const parent = sb.insert('Case', { Subject: 'v' })
  const [info] = (await initUpload(sb, bearer, parent, [fileProps('v.pdf', 3)])).body as UploadInfo[]
  const upload = await s3Post(sb, uploadForm(info!, Buffer.from('abc'), { success_action_status: undefined }))
  const versionId = upload.headers.get('x-amz-version-id')
  t.ok(versionId)
  await call(
    FILES,
    { method: 'PUT', json: { wipIds: [info!.wipFileId], versionIds: [versionId] } },
    sb,
    bearer,
  )
  t.equal(sb.records('cg__CaseFile__c')[0]?.cg__Version_Id__c, versionId)
})

t.test('faults: status, method filter, token, s3 errors and dropped uploads', async (t) => {
  sandbox.failNext('query', 1, { status: 503 })
  const failed = await query('SELECT Id FROM Account')
  t.match([failed.status, failed.body], [503, [{ errorCode: 'SERVER_UNAVAILABLE' }]])
  t.ok(failed.headers.get('sforce-limit-info'))
  t.equal((await query('SELECT Id FROM Account')).status, 200, 'only the next one fails')

  sandbox.failNext('apex', 1, { status: 500, method: 'PUT' })
  const [info] = (await initUpload(sandbox, token, caseId, [fileProps('f.pdf', 4)])).body as UploadInfo[]
  t.ok(info, 'POST not affected by a PUT fault')
  sandbox.failNext('s3', 1, { status: 500 })
  const s3Failed = await s3Post(sandbox, uploadForm(info!, Buffer.from('data')))
  t.match([s3Failed.status, s3Failed.text], [500, /<Code>InternalError<\/Code>/])
  t.equal((await s3Post(sandbox, uploadForm(info!, Buffer.from('data')))).status, 204)
  const putFailed = await call(FILES, { method: 'PUT', json: { wipIds: [info!.wipFileId] } })
  t.match([putFailed.status, putFailed.body], [500, [{ errorCode: 'APEX_ERROR' }]])
  t.equal((await call(FILES, { method: 'PUT', json: { wipIds: [info!.wipFileId] } })).status, 200)

  sandbox.failNext('token', 1, { status: 503, body: { error: 'unavailable' } })
  const tokenFailed = await tokenRequest(sandbox, {
    grant_type: 'client_credentials',
    client_id: sandbox.clientId,
    client_secret: sandbox.clientSecret,
  })
  t.same([tokenFailed.status, tokenFailed.body], [503, { error: 'unavailable' }])

  sandbox.failNext('sobject', 1, { status: 500, body: [{ errorCode: 'CUSTOM', message: 'm' }] })
  t.match((await call(`${V}/sobjects/Account/${caseId}`)).body, [{ errorCode: 'CUSTOM' }])
  sandbox.failNext('composite', 1, { status: 502 })
  t.equal((await call(`${V}/composite/sobjects`, { method: 'PATCH', json: { records: [] } })).status, 502)

  const big = Buffer.alloc(512 * 1024, 3)
  const [bigInfo] = (await initUpload(sandbox, token, caseId, [fileProps('big.bin', big.length)]))
    .body as UploadInfo[]
  sandbox.failNext('s3', 1, { status: 500, dropAfterBytes: 64 * 1024 })
  await t.rejects(s3Post(sandbox, uploadForm(bigInfo!, big)), 'the connection drops mid-upload')
  t.notOk(sandbox.s3Keys().includes(bigInfo!.fileLocation), 'no partial object')
  t.equal((await s3Post(sandbox, uploadForm(bigInfo!, big))).status, 204, 'the retry succeeds')
  t.same(await sandbox.s3Object(bigInfo!.fileLocation), big)
  t.ok((sandbox.calls.s3 ?? 0) >= 5)
  t.ok((sandbox.calls['apex:PUT'] ?? 0) >= 2)
})

t.test('periodic faults: every Nth REST call, the session and limit variants, S3, cleared', async (t) => {
  const sb = await startSalesforceSandbox()
  t.teardown(() => sb.close())
  const bearer = await login(sb)
  const caseOfSb = sb.insert('Case', { Subject: 'periodic' })
  const statusOf = async (path: string) => (await call(path, {}, sb, bearer)).status

  sb.failEvery('rest', 3, SALESFORCE_FAULTS.unavailable)
  const statuses = []
  for (let i = 0; i < 3; i++) {
    statuses.push(await statusOf(`${V}/query?q=SELECT+Id+FROM+Case`))
    statuses.push(await statusOf(`${V}/sobjects/Case/${caseOfSb}`))
    await login(sb) // token requests are not REST calls: they do not move the count
  }
  t.same(statuses, [200, 200, 503, 200, 200, 503], 'query and sobject counted together')
  const unavailable = await call(`${V}/limits`, {}, sb, bearer)
  t.equal(unavailable.status, 200)
  const third = await call(`${V}/limits`, {}, sb, bearer)
  t.equal(third.status, 200)
  const apex = await call(`${FILES}?fileObjectId=x`, {}, sb, bearer)
  t.match([apex.status, apex.body], [503, [{ errorCode: 'SERVER_UNAVAILABLE' }]], 'apex is REST too')
  sb.clearFaults()
  for (let i = 0; i < 4; i++) t.equal(await statusOf(`${V}/limits`), 200, 'cleared')

  sb.failEvery('query', 2, SALESFORCE_FAULTS.invalidSession)
  sb.failEvery(['sobject', 'composite'], 3, SALESFORCE_FAULTS.requestLimit)
  const q = (n: number) => call(`${V}/query?q=SELECT+Id+FROM+Case+LIMIT+${n}`, {}, sb, bearer)
  t.equal((await q(1)).status, 200)
  const expired = await q(2)
  t.same(
    [expired.status, expired.body],
    [401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]],
  )
  t.equal((await q(3)).status, 200, 'the session itself stays valid')
  const sobjectStatuses = []
  for (let i = 0; i < 3; i++) sobjectStatuses.push(await statusOf(`${V}/sobjects/Case/${caseOfSb}`))
  t.same(sobjectStatuses, [200, 200, 403], 'a second periodic fault keeps its own count')
  sb.failNext('sobject', 1, { status: 500 })
  t.equal(await statusOf(`${V}/sobjects/Case/${caseOfSb}`), 500, 'a one-shot fault goes first')
  const limited = await call(`${V}/sobjects/Case/${caseOfSb}`, {}, sb, bearer)
  t.equal(limited.status, 200)
  const limitedAgain = await call(
    `${V}/composite/sobjects`,
    { method: 'PATCH', json: { records: [] } },
    sb,
    bearer,
  )
  t.equal(limitedAgain.status, 200)
  const refused = await call(`${V}/sobjects/Case/${caseOfSb}`, {}, sb, bearer)
  t.same(
    [refused.status, refused.body],
    [403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]],
  )
  sb.clearFaults()

  sb.failEvery('s3', 2, { status: 500 })
  const bytes = Buffer.from('periodic s3')
  const [info] = (await initUpload(sb, bearer, caseOfSb, [fileProps('p.pdf', bytes.length)]))
    .body as UploadInfo[]
  const uploads = []
  for (let i = 0; i < 4; i++) uploads.push((await s3Post(sb, uploadForm(info!, bytes))).status)
  t.same(uploads, [204, 500, 204, 500], 'every second S3 request answers 500')
  t.same(sb.injectedFaults(), { query: 2, sobject: 4, apex: 1, s3: 2 }, 'injected faults counted per target')
  t.throws(() => sb.failEvery('s3', 0, { status: 500 }), RangeError)
})

t.test('close is idempotent and ends open connections', async (t) => {
  const sb = await startSalesforceSandbox()
  const bearer = await login(sb)
  t.equal((await call(`${V}/limits`, {}, sb, bearer)).status, 200)
  await Promise.all([sb.close(), sb.close()])
  await sb.close()
  await t.rejects(fetch(`${sb.url}/services/data`))
})

t.test('notifications: emailSimple, platform events and the webhook receiver are recorded', async (t) => {
  const emailed = await call(`${V}/actions/standard/emailSimple`, {
    method: 'POST',
    json: {
      inputs: [
        { emailAddresses: 'a@example.com, b@example.com', emailSubject: 'Hi', emailBody: 'Body' },
        { emailAddresses: 'c@example.com', emailSubject: 'No body' },
      ],
    },
  })
  t.equal(emailed.status, 200)
  t.match(emailed.body, [
    { actionName: 'emailSimple', isSuccess: true, errors: null },
    {
      actionName: 'emailSimple',
      isSuccess: false,
      errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: /emailBody/ }],
    },
  ])
  t.equal(
    (await call(`${V}/actions/standard/emailSimple`, { method: 'POST', json: { inputs: [] } })).status,
    400,
  )
  t.match(sandbox.emails(), [{ to: ['a@example.com', 'b@example.com'], subject: 'Hi', body: 'Body' }])
  t.equal(sandbox.emails().length, 1, 'an incomplete input sends nothing')

  const published = await call(`${V}/sobjects/Bridge_Alert__e/`, { method: 'POST', json: { Event__c: 'x' } })
  t.equal(published.status, 201)
  t.match(published.body, { id: /^e00/, success: true, errors: [] })
  await sandbox.waitForPlatformEvents(1)
  t.match(sandbox.platformEvents(), [{ sobject: 'Bridge_Alert__e', fields: { Event__c: 'x' } }])

  sandbox.respondToWebhooks([503])
  const post = () =>
    fetch(sandbox.webhookUrl('ops'), {
      method: 'POST',
      headers: { 'x-bridge-delivery': 'd1' },
      body: '{"a":1}',
    })
  t.equal((await post()).status, 503)
  t.equal((await post()).status, 200)
  await sandbox.waitForWebhooks(1, 'ops')
  t.match(sandbox.webhookDeliveries('ops'), [
    { name: 'ops', status: 503, body: '{"a":1}', headers: { 'x-bridge-delivery': 'd1' } },
    { status: 200 },
  ])
  const listed = (await (await fetch(`${sandbox.url}/sandbox/emails`)).json()) as unknown[]
  t.equal(listed.length, 1, 'GET /sandbox/emails lists them (for the demo)')
  t.equal(((await (await fetch(`${sandbox.url}/sandbox/webhooks`)).json()) as unknown[]).length, 2)
  t.equal(((await (await fetch(`${sandbox.url}/sandbox/platform-events`)).json()) as unknown[]).length, 1)
})
