/**
 * Builds the OpenAPI document from the running app's route schemas (never
 * written by hand). Used by scripts/write-openapi.ts and by the test that
 * fails when the committed copy is stale.
 */

import { createBridge } from '../src/bridge.js'
import { parseConfig } from '../src/config/load.js'
import { createLogger } from '../src/logging/logger.js'
import { buildApp } from '../src/server.js'

const offlineConfig = `
server: { apiKeys: ['openapi-document-key-0123456789'] }
store: { sqlitePath: ':memory:' }
salesforce:
  loginUrl: https://login.salesforce.com
  auth: { type: client_credentials, clientId: id, clientSecret: secret }
sdrive: { s3UploadUrl: https://bucket.s3.us-east-1.amazonaws.com/ }
endpoints: {}
flows: []
`

export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const logger = createLogger({ level: 'silent' })
  const bridge = await createBridge(parseConfig(offlineConfig, 'yaml', {}), logger)
  const app = await buildApp(bridge)
  try {
    return app.swagger() as unknown as Record<string, unknown>
  } finally {
    await app.close()
    await bridge.close()
  }
}

export function serialize(document: Record<string, unknown>): string {
  return `${JSON.stringify(document, null, 2)}\n`
}
