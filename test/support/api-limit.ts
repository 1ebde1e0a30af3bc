/**
 * Shared by the API-limit end-to-end files (test/e2e/api-limit-*.test.ts): the
 * outbound flow, records with one S-Drive file each, submitting exports, a
 * metric read from /metrics, and polling the service's state from outside.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type Harness, OPPORTUNITY_SOURCE } from './harness.js'
import { seedSDriveFiles } from './sdrive-seed.js'

export const QUOTA = 10_000_000
export const PROBE_MS = 250

export function episodeFlow(endpoint: string) {
  return {
    name: 'episode',
    kind: 'outbound',
    source: { ...OPPORTUNITY_SOURCE },
    destination: { endpoint, directory: '/outbox/{job.id}', fileName: '{file.name}' },
    // The manifest's record query is the step that used to fail the job with REMOTE_IO.
    manifest: { format: 'csv', recordFields: ['Name'] },
    writeBack: { onSuccess: { Export_Status__c: 'Delivered {file.count}' } },
    // As in the report: a 200 ms longest backoff, which used to mean a call per job every 200 ms.
    retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 200 },
  }
}

export async function seedRecords(h: Harness, count: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    ids.push(
      h.sandbox.insert('Opportunity', {
        Name: `Deal ${i}`,
        StageName: 'Closed Won',
        Export_Status__c: 'New',
      }),
    )
  }
  const target = { fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' }
  for (let i = 0; i < ids.length; i += 20) {
    await Promise.all(
      ids
        .slice(i, i + 20)
        .map((parentId, j) =>
          seedSDriveFiles(h.server.bridge.sdrive, { parentId, ...target }, [
            { name: `contract-${i + j}.pdf`, content: `contract ${i + j}` },
          ]),
        ),
    )
  }
  return ids
}

export async function submitAll(h: Harness, recordIds: string[]): Promise<string[]> {
  const jobIds: string[] = []
  for (let i = 0; i < recordIds.length; i += 25) {
    const answers = await Promise.all(
      recordIds
        .slice(i, i + 25)
        .map((id) => h.api('POST', '/v1/exports', { body: { flow: 'episode', recordIds: [id] } })),
    )
    for (const a of answers) {
      if (a.status !== 202) throw new Error(`export refused: ${a.status} ${JSON.stringify(a.json)}`)
      jobIds.push(a.json.jobId)
    }
  }
  return jobIds
}

export async function metric(h: Harness, name: string): Promise<number> {
  const res = await fetch(`${h.url}/metrics`, {
    headers: { authorization: `Bearer ${h.env.BRIDGE_API_KEY}` },
  })
  const text = await res.text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  if (!line) throw new Error(`no ${name} in /metrics`)
  return Number(line.split(' ')[1])
}

export const unfinished = (h: Harness) => h.server.bridge.store.countRuns(['queued', 'running'], ['episode'])

/** State polling: the test watches the service from outside, as an operator would. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}
