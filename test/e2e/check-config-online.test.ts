/**
 * `check-config --online` logs in to the sandbox org, describes each object
 * the inbound flows name and reports every wrong name with its key path,
 * exiting 1; a configuration whose names all exist exits 0.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli } from '../../src/cli.js'
import { standardFlow, startHarness } from '../support/harness.js'

function cliIo(env: Record<string, string | undefined>) {
  let stdout = ''
  let stderr = ''
  return {
    io: {
      env,
      stdout: (text: string) => {
        stdout += text
      },
      stderr: (text: string) => {
        stderr += text
      },
    },
    stdout: () => stdout,
    stderr: () => stderr,
  }
}

t.test('check-config --online names each wrong object and field', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [
      standardFlow(endpoint),
      standardFlow(endpoint, {
        name: 'typo-docs',
        match: [
          { type: 'filename', pattern: '^(?<AccountNumbr>\\d+)_', object: 'Account' },
          { type: 'folder', template: 'by-code/{Code__c}', object: 'Acount' },
          {
            type: 'filename',
            pattern: '^(?<num>\\d+)-',
            object: 'Account',
            fields: { num: 'AccountNumber' },
          },
        ],
        target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Acount__c' },
      }),
    ],
  })
  const dir = await mkdtemp(join(tmpdir(), 'check-online-'))
  t.teardown(async () => {
    await h.close()
    await rm(dir, { recursive: true, force: true })
  })
  const path = join(dir, 'bridge.json')
  await writeFile(path, h.configText)
  // The service's own start-up check is done, so what is counted below is the CLI's.
  await h.server.bridge.flowSchemaChecked()
  const describesBefore = h.sandbox.calls.sobject ?? 0

  const out = cliIo(h.env)
  t.equal(await runCli(['check-config', path, '--online'], out.io), 1, 'exits non-zero')
  t.same(
    out
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('  flows'))
      .map((l) => l.trim()),
    [
      'flows[1].target.parentField: parent field "cg__Acount__c" is not a field of cg__AccountFile__c',
      'flows[1].match[0].pattern: named group "AccountNumbr" is not a field of Account',
      'flows[1].match[1].object: object "Acount" does not exist in the org (or is not visible to the user)',
    ],
    'each wrong name once, with its key path; a mapped group is checked by its field',
  )
  t.equal(
    (h.sandbox.calls.sobject ?? 0) - describesBefore,
    5,
    'one describe per object: Account, Acount, Opportunity and the two file objects',
  )

  const good = join(dir, 'good.json')
  const config = JSON.parse(h.configText)
  config.flows = [config.flows[0]]
  await writeFile(good, JSON.stringify(config))
  const fine = cliIo(h.env)
  t.equal(await runCli(['check-config', good, '--online'], fine.io), 0)
  t.match(fine.stdout(), /every object and field the inbound flows name exists/)

  const offline = cliIo(h.env)
  t.equal(await runCli(['check-config', path], offline.io), 0, 'without --online the org is not asked')
})
