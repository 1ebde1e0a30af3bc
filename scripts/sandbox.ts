/**
 * `npm run sandbox`: the emulators on their own, for pointing a hand-written
 * config (or another tool) at: Salesforce + S-Drive + S3, an SFTP server and
 * an FTP server with explicit FTPS, the Pub/Sub API over gRPC, all on 127.0.0.1, files under .sandbox/.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { startFtpServer } from '../src/sandbox/ftp-server.js'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { startSftpServer } from '../src/sandbox/sftp-server.js'
import { caPath } from '../src/sandbox/tls/index.js'

const home = resolve(process.env.SANDBOX_DIR ?? '.sandbox')
await rm(home, { recursive: true, force: true })
const root = join(home, 'files')
await mkdir(join(root, 'inbox'), { recursive: true })
const password = process.env.SANDBOX_PASSWORD ?? randomBytes(12).toString('base64url')

const sf = await startSalesforceSandbox({ port: Number(process.env.SF_PORT ?? 0), pubsub: true })
// The topic the kit's Flow publishes, so trigger.pubsub on it subscribes as it would against an org.
sf.pubsub!.define('/event/SDrive_Export__e', ['Record_Id__c', 'File_Id__c'])
const sftp = await startSftpServer({
  root,
  users: [{ username: 'partner', password }],
  port: Number(process.env.SFTP_PORT ?? 0),
})
const ftp = await startFtpServer({
  root,
  username: 'partner',
  password,
  tls: 'explicit',
  port: Number(process.env.FTP_PORT ?? 0),
})

const out = (s = '') => process.stdout.write(`${s}\n`)
out('sandbox running (Ctrl-C stops):')
out(`  salesforce.loginUrl:   ${sf.url}`)
out(`  client id / secret:    ${sf.clientId} / ${sf.clientSecret}`)
out(`  sdrive.s3UploadUrl:    ${sf.s3UploadUrl}`)
out(
  `  salesforce.pubsub:     {endpoint: ${sf.pubsub!.endpoint}, tls: false}  (topic /event/SDrive_Export__e)`,
)
out(
  `  sftp:                  ${sftp.host}:${sftp.port} partner / ${password}  hostKeySha256 ${sftp.hostKeySha256}`,
)
out(`  ftp + explicit ftps:   ${ftp.host}:${ftp.port} partner / ${password}  CA ${caPath}`)
out(`  files:                 ${root}`)

const stop = async () => {
  await Promise.allSettled([ftp.close(), sftp.close(), sf.close()])
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
