/** A sandbox org and a configuration file pointing at it, for the conformance probe's tests. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'
import type { SalesforceSandbox, SalesforceSandboxOptions } from '../../src/sandbox/salesforce/types.js'

export const PROBE_SECRET = 'probe-client-secret-Zx81!q'
export const PROBE_REMOTE_PASSWORD = 'probe-remote-pass-7Yw#'

export interface ConfigOverrides {
  sdrive?: Record<string, unknown>
  salesforce?: Record<string, unknown>
  flows?: Record<string, unknown>[]
}

export interface ProbeOrg {
  sandbox: SalesforceSandbox
  dir: string
  accountId: string
  env: Record<string, string>
  /** Writes a configuration (overrides merged into the defaults) and returns its path. */
  writeConfig(overrides?: ConfigOverrides): Promise<string>
  close(): Promise<void>
}

/** Inbound to Account files (existing ones replaced) and outbound from Opportunity files with write-back. */
export function probeFlows(): Record<string, unknown>[] {
  return [
    {
      name: 'partner-docs',
      kind: 'inbound',
      source: { endpoint: 'partner', directory: '/inbox' },
      match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
      target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
      existing: 'replace',
      after: { success: 'delete', errorDirectory: '/errors' },
    },
    {
      name: 'exports',
      kind: 'outbound',
      source: {
        object: 'Opportunity',
        fileObject: 'cg__OpportunityFile__c',
        parentField: 'cg__Opportunity__c',
      },
      destination: { endpoint: 'partner', directory: '/out' },
      writeBack: { onSuccess: { StageName: 'Delivered' } },
    },
  ]
}

export async function startProbeOrg(options: SalesforceSandboxOptions = {}): Promise<ProbeOrg> {
  const sandbox = await startSalesforceSandbox({ clientSecret: PROBE_SECRET, ...options })
  const dir = await mkdtemp(join(tmpdir(), 'check-org-'))
  const accountId = sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-1' })
  const env = { SF_CLIENT_SECRET: PROBE_SECRET, REMOTE_PASSWORD: PROBE_REMOTE_PASSWORD }
  let n = 0
  return {
    sandbox,
    dir,
    accountId,
    env,
    async writeConfig(overrides: ConfigOverrides = {}) {
      const config = {
        server: { host: '127.0.0.1', port: 0 },
        salesforce: {
          loginUrl: sandbox.url,
          auth: {
            type: 'client_credentials',
            clientId: sandbox.clientId,
            clientSecret: '${SF_CLIENT_SECRET}',
          },
          timeoutMs: 20_000,
          maxRetries: 0,
          ...overrides.salesforce,
        },
        sdrive: { s3UploadUrl: sandbox.s3UploadUrl, ...overrides.sdrive },
        endpoints: {
          partner: {
            protocol: 'sftp',
            host: '127.0.0.1',
            username: 'partner',
            password: '${REMOTE_PASSWORD}',
            insecureSkipHostKeyCheck: true,
          },
        },
        flows: overrides.flows ?? probeFlows(),
      }
      const path = join(dir, `bridge-${++n}.json`)
      await writeFile(path, JSON.stringify(config, null, 2))
      return path
    },
    async close() {
      await sandbox.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
