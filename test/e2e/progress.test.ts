/** Progress of a multi-file run streamed as server-sent events. */
import t from 'tap'
import { API_KEY, seedRecords, standardFlow, startHarness } from '../support/harness.js'

interface ProgressEvent {
  event: string
  data: {
    filesDone: number
    filesTotal: number
    bytesDone: number
    bytesTotal: number
    etaSeconds: number | null
    state: string
  }
}

async function readEvents(url: string): Promise<ProgressEvent[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${API_KEY}` } })
  if (res.status !== 200 || !res.body) throw new Error(`SSE answered ${res.status}`)
  const events: ProgressEvent[] = []
  let buffer = ''
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += Buffer.from(chunk).toString('utf8')
    let cut = buffer.indexOf('\n\n')
    while (cut >= 0) {
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      const event = /^event: (.+)$/m.exec(block)?.[1]
      const data = /^data: (.+)$/m.exec(block)?.[1]
      if (event && data) events.push({ event, data: JSON.parse(data) })
      cut = buffer.indexOf('\n\n')
    }
  }
  return events
}

t.test('a run streams progress events until it ends', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (e) => [standardFlow(e)] })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  const files = 20
  for (let i = 0; i < files; i++) await h.put(`inbox/ACME-001_part${i}.pdf`, Buffer.alloc(512 * 1024, i))

  const started = await h.api('POST', '/v1/flows/partner-docs/runs')
  t.equal(started.status, 202)
  const events = await readEvents(`${h.url}/v1/runs/${started.json.runId}/events`)
  const progress = events.filter((e) => e.event === 'progress')
  t.ok(progress.length >= 2, `several progress events (${progress.length})`)
  for (let i = 1; i < progress.length; i++) {
    t.ok((progress[i]?.data.bytesDone ?? 0) >= (progress[i - 1]?.data.bytesDone ?? 0), 'bytes never go back')
  }
  const end = events.at(-1)
  t.equal(end?.event, 'end')
  t.match(end?.data, {
    state: 'succeeded',
    filesDone: files,
    filesTotal: files,
    bytesDone: files * 512 * 1024,
    etaSeconds: 0,
  })
  t.ok(
    progress.some((e) => e.data.filesDone < files),
    'seen before the end',
  )

  const detail = await h.api('GET', `/v1/runs/${started.json.runId}`)
  t.same(
    detail.json.progress,
    {
      filesDone: files,
      filesFailed: 0,
      filesTotal: files,
      bytesDone: files * 512 * 1024,
      bytesTotal: files * 512 * 1024,
      etaSeconds: 0,
    },
    'the run API reports the same progress',
  )

  const missing = await fetch(`${h.url}/v1/runs/run_nope/events`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  })
  t.equal(missing.status, 404)
})
