/**
 * `check-org` against the sandbox org: in each S-Drive variant every check
 * is ok and the suggested block fits the variant; a wrong field name, a
 * field the run-as user cannot edit, a missing S-Drive package and a wrong
 * S3 URL are each reported with their key path and a non-zero exit; the
 * write probe leaves nothing behind and removes what a killed probe left.
 */
import { Readable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { createSalesforceApi } from '../../src/adapters/salesforce/index.js'
import { createSDrive } from '../../src/adapters/sdrive/index.js'
import { runCli } from '../../src/cli.js'
import { loadConfig } from '../../src/config/load.js'
import type { OrgReport } from '../../src/services/org-check/index.js'
import { type ProbeOrg, probeFlows, startProbeOrg } from '../support/org-probe.js'

interface CliRun {
  code: number
  report: OrgReport
  stderr: string
}

async function checkOrg(org: ProbeOrg, configPath: string, extra: string[] = []): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(['check-org', '--config', configPath, '--json', ...extra], {
    env: org.env,
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
  })
  return { code, report: JSON.parse(stdout) as OrgReport, stderr }
}

const notOk = (report: OrgReport) =>
  report.checks.filter((c) => c.verdict !== 'ok').map((c) => `${c.verdict} ${c.keyPath}: ${c.evidence}`)
const wrongAt = (report: OrgReport) =>
  report.checks.filter((c) => c.verdict === 'wrong').map((c) => c.keyPath)
const fileRows = (org: ProbeOrg) => org.sandbox.records('cg__AccountFile__c', { includeDeleted: true })
const liveProbeRows = (org: ProbeOrg) =>
  org.sandbox
    .records('cg__AccountFile__c')
    .filter(
      (r) => String(r.cg__File_Name__c).startsWith('sdrive-bridge-probe-') && r.cg__Is_Deleted__c !== true,
    )

const variants = [
  {
    name: 'the default: bare answer, either id encoding, AES256, resultObjects, versions',
    options: {},
    sdrive: {},
    expect: {
      uploadAnswer: 'bare',
      encryption: 'AES256',
      idListEncoding: 'either',
      completeAnswer: { list: 'resultObjects', fields: ['wipFileId', 'fileObjectId', 'success', 'message'] },
      versions: 'Is_Latest_Version__c',
    },
    suggested: 'comma',
  },
  {
    name: 'wrapped answer, JSON id lists only, no encryption, results/id/isSuccess, no versions',
    options: {
      postResponseShape: 'wrapped' as const,
      variant: {
        idListEncoding: 'json' as const,
        encryption: false,
        resultNames: { list: 'results', id: 'id', success: 'isSuccess', message: 'errorMessage' },
        versions: false,
      },
    },
    sdrive: { idListEncoding: 'json' },
    expect: {
      uploadAnswer: 'wrapped',
      encryption: 'none',
      idListEncoding: 'json',
      completeAnswer: { list: 'results', fields: ['id', 'isSuccess', 'errorMessage'] },
      versions: 'none',
    },
    suggested: 'json',
  },
  {
    name: 'comma id lists only, resultObject/fileId/status',
    options: {
      variant: {
        idListEncoding: 'comma' as const,
        resultNames: { list: 'resultObject', id: 'fileId', success: 'status', message: 'message' },
      },
    },
    sdrive: { idListEncoding: 'comma' },
    expect: {
      uploadAnswer: 'bare',
      encryption: 'AES256',
      idListEncoding: 'comma',
      completeAnswer: { list: 'resultObject', fields: ['fileId', 'status', 'message'] },
      versions: 'Is_Latest_Version__c',
    },
    suggested: 'comma',
  },
]

for (const variant of variants) {
  t.test(`variant: ${variant.name}`, async (t) => {
    const org = await startProbeOrg(variant.options)
    t.teardown(() => org.close())
    const path = await org.writeConfig({ sdrive: variant.sdrive })
    const run = await checkOrg(org, path, ['--write', '--record-id', org.accountId])
    t.same(notOk(run.report), [], 'every check ok')
    t.equal(run.code, 0)
    t.equal(run.report.verdict, 'ok')
    t.ok(run.report.wrote)
    t.match(run.report.variants, variant.expect, 'the variant is detected')
    t.equal(run.report.suggestedSdrive.idListEncoding, variant.suggested)
    t.match(run.report.suggestedYaml, `idListEncoding: ${variant.suggested}\n`)
    t.match(run.report.suggestedYaml, `POST /files answer: ${variant.expect.uploadAnswer}`)
    t.same(liveProbeRows(org), [], 'the probe file is gone')
    t.same(
      fileRows(org).filter((r) => r.cg__WIP__c === true),
      [],
      'no WIP record left',
    )
    t.match(run.report.facts, {
      username: 'integration@sandbox.example',
      orgId: org.sandbox.orgId,
      edition: 'Enterprise Edition',
      apiVersion: '63.0',
      sdriveVersion: '2.27',
    })
  })
}

t.test(
  'an org that takes only JSON id lists, configured comma: wrong, and the block says json',
  async (t) => {
    const org = await startProbeOrg({ variant: { idListEncoding: 'json' } })
    t.teardown(() => org.close())
    const run = await checkOrg(org, await org.writeConfig(), ['--write', '--record-id', org.accountId])
    t.equal(run.code, 1)
    t.same(wrongAt(run.report), ['sdrive.idListEncoding'])
    t.equal(run.report.suggestedSdrive.idListEncoding, 'json')
    t.equal(
      run.report.checks.find((c) => c.id === 'write.download')?.verdict,
      'ok',
      'the other encoding read it back',
    )
    t.same(liveProbeRows(org), [])
  },
)

t.test('a wrong field name is reported with its key path', async (t) => {
  const org = await startProbeOrg()
  t.teardown(() => org.close())
  const flows = probeFlows()
  ;(flows[0] as { match: unknown[] }).match = [
    { type: 'filename', pattern: '^(?<AccountNumbr>[A-Z]+-\\d+)_', object: 'Account' },
  ]
  ;(flows[1] as { source: Record<string, unknown> }).source.parentField = 'cg__Opportunity_X__c'
  const run = await checkOrg(org, await org.writeConfig({ flows }))
  t.equal(run.code, 1)
  t.same(wrongAt(run.report).sort(), ['flows[0].match[0].pattern', 'flows[1].source.fileObject'].sort())
  t.match(
    run.report.checks.find((c) => c.keyPath === 'flows[0].match[0].pattern')?.evidence,
    /AccountNumbr is not a field of Account/,
  )
})

t.test('fields the run-as user cannot edit: each with its key path', async (t) => {
  const org = await startProbeOrg({
    readOnlyFields: ['Opportunity.StageName', 'cg__AccountFile__c.cg__Is_Deleted__c'],
  })
  t.teardown(() => org.close())
  const run = await checkOrg(org, await org.writeConfig())
  t.equal(run.code, 1)
  t.same(wrongAt(run.report).sort(), ['flows[1].writeBack.onSuccess.StageName', 'sdrive.replaceMode'])
  t.match(
    run.report.checks.find((c) => c.keyPath === 'sdrive.replaceMode')?.evidence,
    /cannot edit cg__AccountFile__c\.cg__Is_Deleted__c/,
  )
  t.equal(
    run.report.suggestedSdrive.replaceMode,
    'delete',
    'soft delete is impossible: the block suggests delete',
  )
})

t.test(
  'an org without versions and a review loop that adds versions: wrong at review.resubmission',
  async (t) => {
    const org = await startProbeOrg({ variant: { versions: false } })
    t.teardown(() => org.close())
    const flows = probeFlows()
    ;(flows[0] as Record<string, unknown>).review = { dropZone: { directory: '/rejected/{record.id}' } }
    const run = await checkOrg(org, await org.writeConfig({ flows }))
    t.equal(run.code, 1)
    t.same(wrongAt(run.report), ['flows[0].review.resubmission'])
    t.equal(run.report.variants.versions, 'none')
    t.match(run.report.suggestedYaml, /versions: not available .*resubmission: replace/)
    ;(flows[0] as { review: Record<string, unknown> }).review.resubmission = 'replace'
    const fixed = await checkOrg(org, await org.writeConfig({ flows }))
    t.equal(fixed.code, 0, 'with resubmission: replace the org fits')
  },
)

t.test('a field of the wrong type is reported', async (t) => {
  const org = await startProbeOrg({ fieldTypes: { 'cg__AccountFile__c.cg__Account__c': 'string' } })
  t.teardown(() => org.close())
  const run = await checkOrg(org, await org.writeConfig())
  t.equal(run.code, 1)
  t.ok(wrongAt(run.report).includes('flows[0].target.fileObject'))
  t.match(run.report.checks.find((c) => c.verdict === 'wrong')?.evidence, /of type string; needed: reference/)
})

t.test('a missing S-Drive package: the package, the files resource and each file object', async (t) => {
  const org = await startProbeOrg({ variant: { installed: false } })
  t.teardown(() => org.close())
  const run = await checkOrg(org, await org.writeConfig())
  t.equal(run.code, 1)
  t.same(
    [...new Set(wrongAt(run.report))].sort(),
    [
      'flows[0].target.fileObject',
      'flows[0].target.parentField',
      'flows[1].source.fileObject',
      'sdrive',
      'sdrive.filesPath',
      'sdrive.replaceMode',
    ].sort(),
    'every place that names a missing file object, the package and the resource',
  )
  t.equal(run.report.facts.sdriveVersion, null)
})

t.test(
  'a wrong S3 URL: read-only it is no bucket; with --write the upload fails and nothing stays',
  async (t) => {
    const org = await startProbeOrg()
    t.teardown(() => org.close())
    const path = await org.writeConfig({ sdrive: { s3UploadUrl: `${org.sandbox.url}/s3/not-our-bucket/` } })
    const readOnly = await checkOrg(org, path)
    t.equal(readOnly.code, 1)
    t.same(wrongAt(readOnly.report), ['sdrive.s3UploadUrl'])
    t.match(readOnly.report.checks.find((c) => c.id === 'sdrive.s3UploadUrl')?.evidence, /NoSuchBucket/)

    const written = await checkOrg(org, path, ['--write', '--record-id', org.accountId])
    t.equal(written.code, 1)
    t.same(wrongAt(written.report), ['sdrive.s3UploadUrl', 'sdrive.s3UploadUrl'])
    t.equal(written.report.checks.find((c) => c.id === 'write.nothingLeft')?.verdict, 'ok')
    t.same(
      fileRows(org).filter((r) => r.cg__WIP__c === true),
      [],
      'the WIP record was cancelled',
    )
    t.match(written.report.suggestedYaml, /s3UploadUrl: .*DID NOT WORK/)
  },
)

t.test(
  'a probe killed mid-way: the next one removes its WIP record and finished file, nothing else',
  async (t) => {
    const org = await startProbeOrg()
    t.teardown(() => org.close())
    const path = await org.writeConfig()
    const config = await loadConfig(path, org.env)
    const sf = createSalesforceApi(config.salesforce, { logger: pino({ level: 'silent' }) })
    t.teardown(() => sf.close())
    const sdrive = createSDrive(sf, config.sdrive, { logger: pino({ level: 'silent' }) })
    const target = {
      parentId: org.accountId,
      fileObject: 'cg__AccountFile__c',
      parentField: 'cg__Account__c',
    }
    const upload = async (fileName: string, complete: boolean) => {
      const bytes = Buffer.from(`left by ${fileName}\n`)
      const spec = { fileName, sizeBytes: bytes.length, contentType: 'text/plain' }
      const [ticket] = await sdrive.startUpload(target, [spec])
      if (!ticket || !complete) return
      const { versionId } = await sdrive.uploadToS3(
        ticket,
        Readable.from([bytes]),
        bytes.length,
        'text/plain',
      )
      await sdrive.completeUpload([ticket.wipFileId], [versionId])
    }
    // What a probe killed after step 1, and one killed after step 3, leave behind; and a partner's file.
    await upload('sdrive-bridge-probe-1700000000000.txt', false)
    await upload('sdrive-bridge-probe-1700000000001.txt', true)
    await upload('invoice-4711.txt', true)

    const run = await checkOrg(org, path, ['--write', '--record-id', org.accountId])
    t.same(notOk(run.report), [])
    t.match(
      run.report.checks.find((c) => c.id === 'write.cleanup')?.evidence,
      /1 WIP record\(s\), 1 finished file\(s\)/,
    )
    const live = org.sandbox.records('cg__AccountFile__c').filter((r) => r.cg__Is_Deleted__c !== true)
    t.same(
      live.map((r) => r.cg__File_Name__c),
      ['invoice-4711.txt'],
      "only the partner's file is left",
    )
  },
)

t.test(
  'a refused login stops the probe at once; an API version the org does not offer is wrong',
  async (t) => {
    const org = await startProbeOrg()
    t.teardown(() => org.close())
    const refused = await checkOrg(
      { ...org, env: { ...org.env, SF_CLIENT_SECRET: 'not-the-secret' } },
      await org.writeConfig(),
    )
    t.equal(refused.code, 1)
    t.same(
      refused.report.checks.map((c) => [c.id, c.verdict, c.keyPath]),
      [['auth', 'wrong', 'salesforce.auth']],
    )
    t.match(refused.report.checks[0]?.evidence, /SALESFORCE_AUTH_FAILED: .*invalid_client_credentials/)

    const future = await checkOrg(org, await org.writeConfig({ salesforce: { apiVersion: '99.0' } }))
    t.equal(future.code, 1)
    t.same(wrongAt(future.report), ['salesforce.apiVersion'])
    t.match(future.report.facts, { apiVersion: '99.0', latestApiVersion: '63.0' })
  },
)

t.test('usage errors exit 2', async (t) => {
  const org = await startProbeOrg()
  t.teardown(() => org.close())
  const path = await org.writeConfig()
  const io = { env: org.env, stdout: () => undefined, stderr: () => undefined }
  t.equal(await runCli(['check-org', '--config', path, '--write'], io), 2, '--write without --record-id')
  t.equal(await runCli(['check-org', '--config', path, '--record-id', org.accountId], io), 2, 'no --write')
  t.equal(await runCli(['check-org', '--config', path, '--write', '--record-id', 'x;1'], io), 2, 'not an id')
  t.equal(await runCli(['check-org', '--config', path, '--flow', 'nope'], io), 2, 'unknown flow')
  t.equal(await runCli(['check-org', '--bogus'], io), 2)
})
