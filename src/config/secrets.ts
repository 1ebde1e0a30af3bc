/** The secret values of a configuration, for removing them from recordings wherever they appear. */
import type { BridgeConfig } from './schema.js'

export function configSecrets(
  config: Pick<BridgeConfig, 'salesforce' | 'endpoints' | 'server'> & Partial<Pick<BridgeConfig, 'sdrive'>>,
): string[] {
  const auth = config.salesforce.auth
  const secrets = auth.type === 'client_credentials' ? [auth.clientSecret] : [auth.privateKey]
  for (const endpoint of Object.values(config.endpoints)) {
    for (const value of [
      endpoint.password,
      endpoint.privateKey,
      endpoint.passphrase,
      endpoint.proxy?.password,
    ])
      if (value) secrets.push(value)
  }
  for (const proxy of [config.salesforce.proxy, config.sdrive?.proxy])
    if (proxy?.password) secrets.push(proxy.password)
  secrets.push(...config.server.apiKeys)
  return secrets
}
