/**
 * Fault injection end to end over FTP (see test/e2e/faults.test.ts for the
 * rest): the service reaches its FTP server through the TCP fault proxy,
 * which cuts every connection after 1 MiB (control and data connections of a session together),
 * while Salesforce answers 503 to every fifth REST call. An inbound run of 300
 * files and 100 export jobs still complete, and every file is delivered exactly
 * once (S-Drive records, S3 bytes, the remote folders).
 */
import t from 'tap'
import { cutConnectionsCase } from '../support/faults.js'

// Many files through cut connections: minutes on a loaded CI machine.
t.setTimeout(10 * 60_000)

t.test(`ftp: every connection cut after 1 MiB, Salesforce 503 on every 5th call`, async (t) =>
  cutConnectionsCase(t, 'ftp'),
)
