/**
 * What an export job says it did (issue 18, defect 5), end to end over real
 * sockets: a record with no S-Drive file ends `nothing_to_export` with its
 * own write-back values (never "Delivered"); a record of another object than
 * the flow's is refused (400 from the API, skipped from an Outbound Message);
 * a write-back Salesforce refuses (`entity is deleted`) shows in the job's
 * state.
 */
import t from 'tap'
import { type Harness, OPPORTUNITY_SOURCE, startHarness } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const ORG = '00D000000000001AAA'
const OM_SECRET = 'om-secret-0123456789abcdef'

function flow(endpoint: string, name: string, writeBack: Record<string, unknown>) {
  return {
    name,
    kind: 'outbound',
    source: { ...OPPORTUNITY_SOURCE },
    // No record fields in the names: a deleted record can still have its files delivered.
    destination: { endpoint, directory: `/outbox/${name}/{job.id}`, fileName: '{file.name}' },
    outboundMessages: { organizationIds: [ORG], secret: OM_SECRET },
    writeBack,
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
  }
}

const WRITE_BACK = {
  onSuccess: { Export_Status__c: 'Delivered {file.count}' },
  onFailure: { Export_Status__c: 'Failed', Export_Error__c: '{error}' },
}

function envelope(notifications: { id: string; recordId: string; type: string }[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/63.0/${ORG}</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/63.0/${ORG}</PartnerUrl>
   ${notifications
     .map(
       (n) =>
         `<Notification><Id>${n.id}</Id><sObject xsi:type="sf:${n.type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>${n.recordId}</sf:Id></sObject></Notification>`,
     )
     .join('\n   ')}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`
}

async function opportunity(h: Harness, name: string, files: string[]): Promise<string> {
  const opp = h.sandbox.insert('Opportunity', {
    Name: name,
    StageName: 'Closed Won',
    Export_Status__c: 'New',
  })
  if (files.length > 0) {
    await seedSDriveFiles(
      h.server.bridge.sdrive,
      { parentId: opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
      files.map((f) => ({ name: f, content: `content of ${f}` })),
    )
  }
  return opp
}

const statusOf = (h: Harness, id: string) =>
  h.sandbox.records('Opportunity', { includeDeleted: true }).find((r) => r.Id === id)?.Export_Status__c

async function exportAndSettle(h: Harness, flowName: string, recordId: string) {
  const res = await h.api('POST', '/v1/exports', { body: { flow: flowName, recordIds: [recordId] } })
  if (res.status !== 202) throw new Error(`export refused: ${res.status} ${JSON.stringify(res.json)}`)
  await h.server.bridge.exports.settled(res.json.jobId)
  return (await h.api('GET', `/v1/jobs/${res.json.jobId}`)).json
}

t.test('export outcomes: nothing to export, wrong object, failed write-back', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (e) => [
      flow(e, 'plain', WRITE_BACK),
      flow(e, 'noted', { ...WRITE_BACK, onNothingToExport: { Export_Status__c: 'No documents' } }),
      { ...flow(e, 'manifested', WRITE_BACK), manifest: { format: 'csv', recordFields: ['Name'] } },
    ],
  })
  t.teardown(() => h.close())

  t.test('a record with no S-Drive file: nothing_to_export, never "Delivered"', async (t) => {
    const empty = await opportunity(h, 'Empty', [])
    const job = await exportAndSettle(h, 'plain', empty)
    t.equal(job.state, 'nothing_to_export')
    t.equal(job.files.length, 0)
    t.equal(job.errorCode, null)
    t.equal(statusOf(h, empty), 'New', 'no onNothingToExport values: the record is left as it was')

    const other = await opportunity(h, 'Empty too', [])
    const noted = await exportAndSettle(h, 'noted', other)
    t.equal(noted.state, 'nothing_to_export')
    t.equal(statusOf(h, other), 'No documents', "the flow's onNothingToExport values")

    const listed = await h.api('GET', '/v1/jobs?state=nothing_to_export')
    t.equal(listed.status, 200, 'the new state is a valid filter')
    t.ok(listed.json.jobs.some((j: { id: string }) => j.id === job.id))
  })

  t.test('an Account id sent to an Opportunity flow is a 400 naming body.recordIds', async (t) => {
    const account = h.sandbox.insert('Account', { Name: 'Not an opportunity' })
    const opp = await opportunity(h, 'Right object', [])
    const before = (await h.api('GET', '/v1/jobs?limit=100')).json.jobs.length
    const res = await h.api('POST', '/v1/exports', { body: { flow: 'plain', recordIds: [opp, account] } })
    t.equal(res.status, 400)
    t.equal(res.json.error.code, 'VALIDATION_FAILED')
    t.match(res.json.error.message, /^body\.recordIds\[1\]: .* is not a Opportunity record/)
    t.equal((await h.api('GET', '/v1/jobs?limit=100')).json.jobs.length, before, 'no job was created')
  })

  t.test('an Outbound Message for another object: acknowledged, skipped, the rest exported', async (t) => {
    const account = h.sandbox.insert('Account', { Name: 'Wrong type' })
    const opp = await opportunity(h, 'From OM', ['om.pdf'])
    const before = (await h.api('GET', '/v1/jobs?limit=100')).json.jobs.length
    const res = await fetch(`${h.url}/v1/outbound-messages/plain?secret=${OM_SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8', SOAPAction: '""' },
      body: envelope([
        { id: '04l000000000001AAA', recordId: account, type: 'Account' },
        { id: '04l000000000002AAA', recordId: opp, type: 'Opportunity' },
      ]),
    })
    t.equal(res.status, 200)
    t.match(await res.text(), /<Ack>true<\/Ack>/)
    const jobs = (await h.api('GET', '/v1/jobs?limit=100')).json.jobs
    t.equal(jobs.length, before + 1, 'one job: the Account notification was skipped')
    t.ok(
      h.logs.some((l) => l.includes('notification for another object') && l.includes('04l000000000001AAA')),
      'the skip is logged with the notification id',
    )
  })

  t.test('a write-back refused with entity is deleted shows in the job state', async (t) => {
    const opp = await opportunity(h, 'Deleted later', ['contract.pdf'])
    // The record is deleted after its files were selected: the S-Drive files are still there.
    const deleted = await h.server.bridge.sf.deleteRecords([opp])
    t.equal(deleted[0]?.success, true)
    const job = await exportAndSettle(h, 'plain', opp)
    t.equal(job.files[0]?.state, 'done', 'the file was delivered')
    t.equal(job.state, 'partially_failed', 'delivered, but the record was not updated')
    t.equal(job.errorCode, 'WRITE_BACK_FAILED')
    t.match(job.errorMessage, /ENTITY_IS_DELETED entity is deleted/)
  })

  t.test(
    'a Salesforce fault in the manifest step keeps its code; the metric counts the stored state',
    async (t) => {
      const opp = await opportunity(h, 'Manifest fault', ['invoice.pdf'])
      // One job's queries: the file selection, the record fields for names, then the manifest's record
      // query. Every third query fails, so the manifest's does, with a fault that is not transient.
      h.sandbox.failEvery('query', 3, { status: 400, errorCode: 'INVALID_FIELD', message: 'No such column' })
      t.teardown(() => h.sandbox.clearFaults())
      const job = await exportAndSettle(h, 'manifested', opp)
      t.equal(job.files[0]?.state, 'done', 'the file itself was delivered')
      t.equal(job.state, 'failed', 'no manifest: the job failed')
      t.equal(job.errorCode, 'SALESFORCE_ERROR', 'with the fault it met, not REMOTE_IO')
      t.match(job.errorMessage, /INVALID_FIELD/)
      const metrics = await (
        await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.env.BRIDGE_API_KEY}` } })
      ).text()
      t.match(
        metrics,
        /bridge_runs_total\{flow="manifested",state="failed"\} 1/,
        'the run metric says failed',
      )
      t.notMatch(
        metrics,
        /bridge_runs_total\{flow="manifested",state="succeeded"\} [1-9]/,
        'and not succeeded',
      )
    },
  )
})
