/**
 * Composition of the conformance probe: its own Salesforce and S-Drive
 * clients (so nothing it does shares a session or a limit gate with running
 * flows), every exchange kept in memory for variant detection and, with a
 * recording directory, written redacted as JSON lines.
 */
import type { Logger } from 'pino'
import { openExchangeRecording } from './adapters/recording/exchange-file.js'
import { createSalesforceApi } from './adapters/salesforce/index.js'
import { createSDrive } from './adapters/sdrive/index.js'
import type { BridgeConfig } from './config/schema.js'
import { configSecrets } from './config/secrets.js'
import type { Exchange } from './ports/exchange-log.js'
import { checkOrg, type OrgCheckOptions, type OrgReport } from './services/org-check/index.js'

export interface RunOrgCheckOptions extends OrgCheckOptions {
  /** Write every request and answer, redacted, as JSON lines to a file in this directory. */
  recordDirectory?: string
}

export interface OrgCheckRun {
  report: OrgReport
  /** The recording's file, when one was asked for. */
  recording: string | null
}

export async function runOrgCheck(
  config: BridgeConfig,
  options: RunOrgCheckOptions,
  logger: Logger,
): Promise<OrgCheckRun> {
  const exchanges: Exchange[] = []
  const recording = options.recordDirectory
    ? openExchangeRecording({
        directory: options.recordDirectory,
        label: 'check-org',
        secrets: configSecrets(config),
      })
    : null
  const record = (exchange: Exchange) => {
    exchanges.push(exchange)
    recording?.sink(exchange)
  }
  const log = logger.child({ component: 'check-org' })
  const sf = createSalesforceApi(config.salesforce, { logger: log, record })
  const sdrive = createSDrive(sf, config.sdrive, { logger: log, record })
  try {
    const report = await checkOrg({ config, sf, sdrive, exchanges: () => exchanges }, options)
    return { report, recording: recording?.path ?? null }
  } finally {
    sf.close()
    await recording?.close()
  }
}
