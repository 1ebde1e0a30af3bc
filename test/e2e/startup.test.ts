/** Start-up: a bad configuration stops the process with a non-zero exit naming the key. */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { childEnv, compiled } from '../support/service-build.js'

async function runServer(config: string, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-startup-'))
  const path = join(dir, 'bridge.yaml')
  await writeFile(path, config)
  const proc = spawn(process.execPath, [compiled('src/server.ts')], {
    env: childEnv({ ...env, BRIDGE_CONFIG: path }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const [code] = (await once(proc, 'exit')) as [number]
  await rm(dir, { recursive: true, force: true })
  return { code, stderr }
}

const valid = `
server: { port: 0, apiKeys: ['\${KEY}'] }
salesforce:
  loginUrl: http://127.0.0.1:9
  auth: { type: client_credentials, clientId: id, clientSecret: '\${SECRET}' }
sdrive: { s3UploadUrl: http://127.0.0.1:9/ }
endpoints:
  partner: { protocol: sftp, host: 127.0.0.1, username: u, password: p, hostKeySha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }
flows:
  - name: f
    kind: inbound
    source: { endpoint: partner, directory: /in }
    match: [{ type: filename, pattern: '(?<AccountNumber>[', object: Account }]
    target: { fileObject: cg__AccountFile__c, parentField: cg__Account__c }
    after: { success: move, processedDirectory: /done, errorDirectory: /err }
`

t.test('an invalid regex stops start-up naming its key', async (t) => {
  const { code, stderr } = await runServer(valid, { KEY: 'k'.repeat(20), SECRET: 's' })
  t.equal(code, 2)
  t.match(stderr, /flows\[0\]\.match\[0\]\.pattern: invalid regular expression/)
})

t.test('a missing environment variable stops start-up naming key and variable', async (t) => {
  const { code, stderr } = await runServer(
    valid.replace("'(?<AccountNumber>['", "'^(?<AccountNumber>.+)_'"),
    {
      KEY: 'k'.repeat(20),
    },
  )
  t.equal(code, 2)
  t.match(stderr, /salesforce\.auth\.clientSecret/)
  t.match(stderr, /SECRET/)
})
