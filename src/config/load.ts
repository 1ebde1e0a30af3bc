/**
 * Reads the configuration: YAML or JSON text → `${VAR}` substitution →
 * JSON Schema validation with defaults → checks beyond the schema. Every
 * problem found is reported at once, by key path, in one ConfigError.
 * parseConfig is pure; loadConfig only adds reading the file.
 */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseDocument } from 'yaml'
import { BridgeError } from '../domain/errors.js'
import { checkConfig } from './checks.js'
import { type Env, substituteEnv } from './env.js'
import { type ConfigIssue, isPlainObject } from './key-path.js'
import { checkPgpKeys } from './pgp-checks.js'
import type { BridgeConfig, EndpointConfig } from './schema.js'
import { validateConfigSchema } from './validate.js'

export type { ConfigIssue } from './key-path.js'
export { REDACTED, redactConfig } from './redact.js'
export type { Env }

export type ConfigFormat = 'yaml' | 'json'

/** The validated configuration, defaults applied, each endpoint carrying its name. */
export type LoadedConfig = Omit<BridgeConfig, 'endpoints'> & { endpoints: Record<string, EndpointConfig> }

export class ConfigError extends BridgeError {
  readonly issues: readonly ConfigIssue[]

  constructor(issues: ConfigIssue[]) {
    const lines = issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
    super('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`, { details: { issues } })
    this.name = 'ConfigError'
    this.issues = issues
  }
}

export function parseConfig(text: string, format: ConfigFormat, env: Env): LoadedConfig {
  const raw = format === 'json' ? parseJson(text) : parseYaml(text)
  if (!isPlainObject(raw)) {
    throw new ConfigError([
      {
        path: '',
        message: raw == null ? 'the configuration is empty' : 'the configuration must be a mapping',
      },
    ])
  }

  const substituted = substituteEnv(raw, env)
  // Validating with unresolved references would only add misleading errors about the same keys.
  if (substituted.issues.length > 0) throw new ConfigError(substituted.issues)

  const config = substituted.value
  const issues = [...validateConfigSchema(config), ...checkConfig(config)]
  if (issues.length > 0) throw new ConfigError(issues)

  const valid = config as BridgeConfig
  const endpoints: Record<string, EndpointConfig> = {}
  for (const [name, endpoint] of Object.entries(valid.endpoints)) endpoints[name] = { ...endpoint, name }
  return { ...valid, endpoints }
}

/** Reads and parses a configuration file; `.json` is parsed as JSON, anything else as YAML. */
export async function loadConfig(path: string, env: Env = process.env): Promise<LoadedConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError([{ path: '', message: `cannot read ${path}: ${(error as Error).message}` }])
  }
  const config = parseConfig(text, extname(path).toLowerCase() === '.json' ? 'json' : 'yaml', env)
  // Reading keys is asynchronous, so it is not part of parseConfig; every file loaded passes it.
  const keyIssues = await checkPgpKeys(config)
  if (keyIssues.length > 0) throw new ConfigError(keyIssues)
  return config
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    const message = (error as Error).message
    // V8 reports an offset; people look for a line and column.
    const position = /at position (\d+)/.exec(message)
    const where = position ? ` (${lineAndColumn(text, Number(position[1]))})` : ''
    throw new ConfigError([{ path: '', message: `invalid JSON: ${message}${where}` }])
  }
}

function parseYaml(text: string): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (document.errors.length > 0) {
    // The first line carries "… at line L, column C"; the rest is a source excerpt.
    const issues = document.errors.map((e) => ({
      path: '',
      message: `invalid YAML: ${(e.message.split('\n')[0] ?? e.message).replace(/:$/, '')}`,
    }))
    throw new ConfigError(issues)
  }
  try {
    return document.toJS()
  } catch (error) {
    throw new ConfigError([{ path: '', message: `invalid YAML: ${(error as Error).message}` }])
  }
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n')
  return `line ${before.length}, column ${(before[before.length - 1]?.length ?? 0) + 1}`
}
