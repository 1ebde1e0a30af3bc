/**
 * Support recordings and the other faces of check-org: the JSON lines of a
 * full write probe (the CLI as a child process) hold no secret; a normal
 * run with server.recordSalesforce is recorded the same way; and
 * POST /v1/admin/check-org answers the same report as JSON.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startFaultProxy } from '../support/fault-proxy.js'
import { API_KEY, REMOTE_PASSWORD, seedRecords, standardFlow, startHarness } from '../support/harness.js'
import { PROBE_REMOTE_PASSWORD, PROBE_SECRET, startProbeOrg } from '../support/org-probe.js'
import { childEnv, compiled } from '../support/service-build.js'

const repoRoot = join(import.meta.dirname, '..', '..')

function runCliChild(args: string[], env: Record<string, string>) {
  return startCliChild(args, env).done
}

function startCliChild(args: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, [compiled('src/cli.ts'), ...args], {
    cwd: repoRoot,
    env: childEnv({ ...env, LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
  })
  proc.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    proc.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  return { proc, done }
}

/** Every way a secret could show in a recording, checked over its whole text. */
function assertNothingSecret(t: Test, text: string, secrets: string[]) {
  for (const secret of secrets)
    t.notOk(text.includes(secret), `the secret ${secret.slice(0, 4)}… is not in it`)
  t.notMatch(text, /00D[A-Za-z0-9]{12,15}![A-Za-z0-9._~+/=-]/, 'no access token / session id')
  t.notMatch(text, /Bearer [^[]/, 'no bearer token')
  t.notMatch(text, /X-Amz-Signature=(?!\[redacted\])/i, 'no presigned-link signature')
  t.notMatch(text, /X-Amz-Credential=(?!\[redacted\])/i, 'no presigned-link credential')
  for (const key of [
    'signature',
    'policy',
    'x-amz-signature',
    'x-amz-credential',
    'awsCredential',
    'access_token',
    'client_secret',
    'authorization',
  ]) {
    const values = [...text.matchAll(new RegExp(`"${key}":("[^"]*"|\\{)`, 'gi'))].map((m) => m[1])
    t.same(
      values.filter((v) => v !== '"[redacted]"'),
      [],
      `every "${key}" is redacted`,
    )
  }
}

t.test('the recording of a full write probe (the CLI as a child process) holds no secret', async (t) => {
  const org = await startProbeOrg()
  const recordDir = await mkdtemp(join(tmpdir(), 'check-org-record-'))
  t.teardown(async () => {
    await org.close()
    await rm(recordDir, { recursive: true, force: true })
  })
  const path = await org.writeConfig()
  const run = await runCliChild(
    ['check-org', '--config', path, '--write', '--record-id', org.accountId, '--record', recordDir],
    org.env,
  )
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /verdict: OK \(\d+ ok, 0 wrong, 0 unknown\)/)
  t.match(run.stdout, /idListEncoding: comma/)
  const [file, ...others] = await readdir(recordDir)
  t.same(others, [], 'one recording file')
  const text = await readFile(join(recordDir, file as string), 'utf8')
  const lines = text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  const seen = new Set(lines.map((l) => `${l.service} ${l.method} ${new URL(String(l.url)).pathname}`))
  for (const call of [
    'salesforce POST /services/oauth2/token',
    'salesforce POST /services/apexrest/cg/SDrive/files',
    'salesforce PUT /services/apexrest/cg/SDrive/files',
    'salesforce GET /services/apexrest/cg/SDrive/files',
    'salesforce GET /services/data/v63.0/sobjects/cg__AccountFile__c/describe',
    's3 POST /s3/cg-sandbox-bucket/',
  ]) {
    t.ok(seen.has(call), `${call} is recorded`)
  }
  t.ok(
    lines.some((l) => l.service === 's3' && l.method === 'GET'),
    'the read-back through the download link is recorded',
  )
  for (const key of [
    'client_secret',
    'signature',
    'policy',
    'x-amz-signature',
    'awsCredential',
    'Authorization',
  ]) {
    t.match(text, `"${key}":"[redacted]"`, `"${key}" was there, and redacted`)
  }
  t.match(text, /X-Amz-Signature=\[redacted\]/, 'the download link was there, its signature redacted')
  assertNothingSecret(t, text, [PROBE_SECRET, PROBE_REMOTE_PASSWORD])
  assertNothingSecret(t, run.stdout, [PROBE_SECRET, PROBE_REMOTE_PASSWORD])
})

t.test('the CLI exits 1 against an org without S-Drive', async (t) => {
  const org = await startProbeOrg({ variant: { installed: false } })
  t.teardown(() => org.close())
  const run = await runCliChild(['check-org', '--config', await org.writeConfig()], org.env)
  t.equal(run.code, 1)
  t.match(run.stdout, /WRONG +S-Drive installed +\[sdrive\]/)
  t.match(run.stdout, /WRONG +S-Drive files resource answers +\[sdrive\.filesPath\]/)
  t.match(run.stdout, /verdict: WRONG/)
})

t.test('server.recordSalesforce records a normal run, redacted', async (t) => {
  const recordDir = await mkdtemp(join(tmpdir(), 'bridge-record-'))
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
    server: { recordSalesforce: recordDir, recordSalesforceMinutes: 5 },
  })
  t.teardown(async () => {
    await h.close()
    await rm(recordDir, { recursive: true, force: true })
  })
  seedRecords(h.sandbox)
  await h.put('inbox/ACME-001_invoice.pdf', 'invoice bytes')
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded')
  await h.server.bridge.close()
  const [file] = await readdir(recordDir)
  const text = await readFile(join(recordDir, file as string), 'utf8')
  t.match(text, /"method":"POST","url":"[^"]*\/services\/apexrest\/cg\/SDrive\/files"/, 'the upload is in it')
  assertNothingSecret(t, text, [h.sandbox.clientSecret, REMOTE_PASSWORD, API_KEY])
})

t.test('POST /v1/admin/check-org answers the report; bad bodies are 4xx naming the field', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (endpoint) => [standardFlow(endpoint)] })
  t.teardown(() => h.close())
  const { acme } = seedRecords(h.sandbox)
  const readOnly = await h.api('POST', '/v1/admin/check-org', { body: {} })
  t.equal(readOnly.status, 200)
  t.equal(readOnly.json.wrote, false)
  t.equal(
    readOnly.json.verdict,
    'ok',
    JSON.stringify(readOnly.json.checks.filter((c: { verdict: string }) => c.verdict !== 'ok')),
  )
  t.ok(readOnly.json.checks.some((c: { id: string }) => c.id === 'sdrive.package'))

  const written = await h.api('POST', '/v1/admin/check-org', { body: { write: true, recordId: acme } })
  t.equal(written.status, 200)
  t.equal(written.json.wrote, true)
  t.equal(written.json.verdict, 'ok')
  t.equal(written.json.checks.find((c: { id: string }) => c.id === 'write.download').verdict, 'ok')

  const noRecord = await h.api('POST', '/v1/admin/check-org', { body: { write: true } })
  t.equal(noRecord.status, 400)
  t.equal(noRecord.json.error.code, 'VALIDATION_FAILED')
  t.match(noRecord.json.error.message, /recordId/)
  const badId = await h.api('POST', '/v1/admin/check-org', { body: { write: true, recordId: "1' OR 1=1" } })
  t.equal(badId.status, 400)
  t.match(badId.json.error.message, /recordId/)
  const unknownFlow = await h.api('POST', '/v1/admin/check-org', { body: { flow: 'nope' } })
  t.equal(unknownFlow.status, 404)
  const unauthenticated = await h.api('POST', '/v1/admin/check-org', {
    body: {},
    headers: { authorization: '' },
  })
  t.equal(unauthenticated.status, 401)
})

t.test(
  'a probe killed (SIGKILL) in the middle of its S3 upload: the next probe leaves nothing behind',
  async (t) => {
    const org = await startProbeOrg()
    t.teardown(() => org.close())
    const sandboxPort = Number(new URL(org.sandbox.url).port)
    // The S3 URL goes through a proxy that holds every byte after the first 1000 sent to S3: the
    // unsigned GET of the read-only check passes, the probe's upload stalls half-way.
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: sandboxPort },
      rule: { action: 'stall', afterBytes: 1000, direction: 'toTarget' },
    })
    t.teardown(() => proxy.close())
    const stalledPath = await org.writeConfig({
      sdrive: { s3UploadUrl: `http://127.0.0.1:${proxy.port}/s3/cg-sandbox-bucket/` },
    })
    const child = startCliChild(
      ['check-org', '--config', stalledPath, '--write', '--record-id', org.accountId],
      org.env,
    )
    await once(proxy.events, 'stall')
    child.proc.kill('SIGKILL')
    const killed = await child.done
    t.equal(killed.code, null, 'killed, not finished')
    const wip = org.sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === true)
    t.equal(wip.length, 1, 'the killed probe left its WIP record')
    t.match(String(wip[0]?.cg__File_Name__c), /^sdrive-bridge-probe-\d+\.txt$/)

    const next = await runCliChild(
      ['check-org', '--config', await org.writeConfig(), '--write', '--record-id', org.accountId, '--json'],
      org.env,
    )
    t.equal(next.code, 0, next.stderr)
    const report = JSON.parse(next.stdout) as { checks: { id: string; verdict: string; evidence: string }[] }
    t.match(
      report.checks.find((c) => c.id === 'write.cleanup')?.evidence,
      /1 WIP record\(s\), 0 finished file\(s\)/,
    )
    t.equal(report.checks.find((c) => c.id === 'write.nothingLeft')?.verdict, 'ok')
    t.same(
      org.sandbox
        .records('cg__AccountFile__c')
        .filter((r) => r.cg__WIP__c === true || r.cg__Is_Deleted__c !== true),
      [],
      'no WIP record and no probe file left',
    )
  },
)
