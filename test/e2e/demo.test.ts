/**
 * `npm run demo` (scripts/demo.ts) runs to its end against its own sandbox:
 * every step prints, including the export started by a Platform Event
 * published to the sandbox's Pub/Sub API over gRPC, which must succeed and
 * deliver Acme's file to the partner's SFTP server.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

// Four runs, a progress stream each and a gRPC subscription on a busy 2-core machine.
t.setTimeout(5 * 60_000)

t.test('the demo runs every step, the Pub/Sub one included', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-demo-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    env: { ...process.env, DEMO_DIR: dir, PORT: '0', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = once(proc, 'exit')
  t.teardown(async () => {
    if (proc.exitCode === null) proc.kill('SIGKILL')
    await exited
  })
  let output = ''
  // The demo keeps serving after its last line: read until it says so (or it exits early).
  await new Promise<void>((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (output.includes('Ctrl-C stops.')) resolve()
    })
    proc.once('exit', (code) => reject(new Error(`demo exited ${code} early:\n${output}`)))
  })
  proc.kill('SIGINT')
  const [code] = await exited
  t.equal(code, 0, 'Ctrl-C stops it cleanly')

  t.match(output, /Run \(POST \/v1\/flows\/partner-contracts\/runs\):/)
  t.match(output, /run run_\w+: partially_failed/, 'the inbound run with its unmatched file')
  const step = output.slice(output.indexOf('Export triggered by a Platform Event'))
  t.match(
    step,
    /^Export triggered by a Platform Event \(Pub\/Sub API over gRPC, \/event\/SDrive_Export__e\):/,
  )
  t.match(step, /published \{Record_Id__c: 001\w{15}\} \(Account Acme Corp\), replay id [0-9a-f]{16}/)
  t.match(step, /job run_\w+: succeeded \(trigger pubsub, records 001\w{15}\)/, 'the event became a job')
  t.match(
    step,
    /done {4}ACME-001_master-services-agreement\.pdf → sftp \/exports\/ACME-001_master-services-agreement\.pdf, \d+ bytes/,
    'the delivered file is printed',
  )
  await access(join(dir, 'partner-sftp', 'exports', 'ACME-001_master-services-agreement.pdf'))
  t.pass('and it is on the partner server')
})
