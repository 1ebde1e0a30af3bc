#!/usr/bin/env node
/**
 * Operator commands:
 *   sdrive-ftp-bridge check-config [FILE] [--online]
 *   sdrive-ftp-bridge check-endpoint NAME [--config FILE] [--json]
 *   sdrive-ftp-bridge check-org [--config FILE] [--json] [--write --record-id ID [--flow NAME]] [--record DIR]
 * Exit codes: 0 fine, 1 the endpoint check (or check-config --online, or check-org) found a problem,
 * 2 an invalid configuration or command line.
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { checkEndpoint } from './adapters/remote/check.js'
import { endpointDirectories } from './adapters/remote/check-directories.js'
import { createSalesforceApi } from './adapters/salesforce/index.js'
import { ConfigError, type Env, type LoadedConfig, loadConfig } from './config/load.js'
import { toBridgeError } from './domain/errors.js'
import { createLogger } from './logging/logger.js'
import { runOrgCheck } from './org-check.js'
import { formatOrgReport } from './org-check-report.js'
import type { EndpointReport } from './ports/endpoint-check.js'
import { createFlowSchemaChecker } from './services/flow-schema.js'

export interface CliIo {
  env: Env
  stdout: (text: string) => void
  stderr: (text: string) => void
}

const usage = `usage:
  sdrive-ftp-bridge check-config [FILE] [--online]
      Validates a configuration file offline (default: $BRIDGE_CONFIG or ./bridge.yaml);
      --online also logs in to Salesforce and checks every object and field the inbound
      flows name (exit 1 if one is wrong).
  sdrive-ftp-bridge check-endpoint NAME [--config FILE] [--json]
      Connects to an endpoint and reports its identity, features, directories and clock.
  sdrive-ftp-bridge check-org [--config FILE] [--json] [--write --record-id ID [--flow NAME]] [--record DIR]
      Probes the Salesforce org: login, user, org, edition, API version and usage, S-Drive's
      package and files resource, the S3 upload URL, every object and field the flows name
      (type and the run-as user's access), and which S-Drive variant the org has; prints a
      verdict per check and a suggested sdrive: block (exit 1 if anything would make a flow fail).
      --write uploads a small probe file to record ID (through the file object of --flow, default
      the first flow's), reads it back, removes it. --record writes every request and answer,
      redacted, as JSON lines to a file in DIR.
`

class UsageError extends Error {}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'check-config':
        return await checkConfigCommand(rest, io)
      case 'check-endpoint':
        return await checkEndpointCommand(rest, io)
      case 'check-org':
        return await checkOrgCommand(rest, io)
      case 'help':
      case '--help':
      case '-h':
        io.stdout(usage)
        return 0
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given')
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message}\n${usage}`)
      return 2
    }
    throw error
  }
}

function defaultConfigPath(env: Env): string {
  return env.BRIDGE_CONFIG ?? './bridge.yaml'
}

async function readConfig(path: string, io: CliIo): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfig(path, io.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    const lines = error.issues.map(
      (issue) => `  ${issue.path === '' ? '(file)' : issue.path}: ${issue.message}`,
    )
    io.stderr(`${path}: invalid configuration\n${lines.join('\n')}\n`)
    return undefined
  }
}

async function checkConfigCommand(args: string[], io: CliIo): Promise<number> {
  const positional = args.filter((arg) => !arg.startsWith('--'))
  const online = args.includes('--online')
  const unknown = args.filter((arg) => arg.startsWith('--') && arg !== '--online')
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown[0]}`)
  if (positional.length > 1) throw new UsageError('check-config takes at most one FILE')
  const path = positional[0] ?? defaultConfigPath(io.env)
  const config = await readConfig(path, io)
  if (!config) return 2
  const endpoints = Object.values(config.endpoints)
  const lines = [`${path}: configuration is valid`, `endpoints (${endpoints.length}):`]
  for (const endpoint of endpoints) {
    const port = endpoint.port ? `:${endpoint.port}` : ''
    lines.push(`  ${endpoint.name}  ${endpoint.protocol}://${endpoint.username}@${endpoint.host}${port}`)
  }
  lines.push(`flows (${config.flows.length}):`)
  for (const flow of config.flows) {
    const where =
      flow.kind === 'inbound'
        ? `${flow.source.endpoint}:${flow.source.directory} -> ${flow.target.fileObject}`
        : flow.kind === 'status'
          ? `${flow.source.endpoint}:${flow.source.directory} -> ${flow.object} fields`
          : `${flow.source.object} -> ${flow.destination.endpoint}:${flow.destination.directory}`
    const when = flow.kind === 'outbound' ? flow.window?.cron : flow.schedule?.cron
    lines.push(`  ${flow.name}  ${flow.kind}  ${where}${when ? `  (${when})` : ''}`)
  }
  io.stdout(`${lines.join('\n')}\n`)
  return online ? await checkAgainstOrg(config, io) : 0
}

/** `--online`: describes every object the inbound flows name (once each) and reports each wrong name. */
async function checkAgainstOrg(config: LoadedConfig, io: CliIo): Promise<number> {
  const logger = createLogger({ level: io.env.LOG_LEVEL ?? 'warn', destination: process.stderr })
  const sf = createSalesforceApi(config.salesforce, { logger })
  const checker = createFlowSchemaChecker({ flows: config.flows, sf, logger })
  try {
    await sf.checkAuth()
  } catch (error) {
    const e = toBridgeError(error)
    io.stderr(`salesforce: cannot log in: ${e.code}: ${e.message}\n`)
    return 1
  }
  const problems: string[] = []
  for (const flow of config.flows) {
    if (flow.kind !== 'inbound') continue
    try {
      for (const p of await checker.problemsOf(flow)) problems.push(`  ${p.path}: ${p.message}`)
    } catch (error) {
      const e = toBridgeError(error)
      problems.push(`  flow "${flow.name}": could not describe its objects: ${e.code}: ${e.message}`)
    }
  }
  if (problems.length > 0) {
    io.stderr(`the org does not have what the configuration names:\n${problems.join('\n')}\n`)
    return 1
  }
  io.stdout('salesforce: every object and field the inbound flows name exists\n')
  return 0
}

async function checkEndpointCommand(args: string[], io: CliIo): Promise<number> {
  let configPath: string | undefined
  let json = false
  const positional: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--json') json = true
    else if (arg === '--config') {
      configPath = args[++i]
      if (configPath === undefined) throw new UsageError('--config needs a FILE')
    } else if (arg.startsWith('--config=')) configPath = arg.slice('--config='.length)
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`)
    else positional.push(arg)
  }
  if (positional.length !== 1) throw new UsageError('check-endpoint takes exactly one endpoint NAME')
  const name = positional[0] as string
  const path = configPath ?? defaultConfigPath(io.env)
  const config = await readConfig(path, io)
  if (!config) return 2
  const endpoint = config.endpoints[name]
  if (!endpoint) {
    const known = Object.keys(config.endpoints).join(', ') || 'none'
    io.stderr(`endpoint "${name}" is not configured in ${path} (configured: ${known})\n`)
    return 2
  }
  // Logs go to stderr, so --json output on stdout stays parseable.
  const logger = createLogger({ level: io.env.LOG_LEVEL ?? 'warn', destination: process.stderr })
  const report = await checkEndpoint(endpoint, endpointDirectories(config.flows, name), logger)
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report))
  return report.ok ? 0 : 1
}

interface CheckOrgArgs {
  configPath?: string
  json: boolean
  write: boolean
  recordId?: string
  flow?: string
  recordDirectory?: string
}

/** A value option: `--name VALUE` or `--name=VALUE`; returns how many arguments it took (0 if not this option). */
function valueOption(args: string[], i: number, name: string, set: (value: string) => void): number {
  const arg = args[i] as string
  if (arg.startsWith(`${name}=`)) {
    set(arg.slice(name.length + 1))
    return 1
  }
  if (arg !== name) return 0
  const value = args[i + 1]
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`)
  set(value)
  return 2
}

function parseCheckOrgArgs(args: string[]): CheckOrgArgs {
  const parsed: CheckOrgArgs = { json: false, write: false }
  for (let i = 0; i < args.length; ) {
    const arg = args[i] as string
    if (arg === '--json' || arg === '--write') {
      parsed[arg === '--json' ? 'json' : 'write'] = true
      i++
      continue
    }
    const took =
      valueOption(args, i, '--config', (v) => {
        parsed.configPath = v
      }) ||
      valueOption(args, i, '--record-id', (v) => {
        parsed.recordId = v
      }) ||
      valueOption(args, i, '--flow', (v) => {
        parsed.flow = v
      }) ||
      valueOption(args, i, '--record', (v) => {
        parsed.recordDirectory = v
      })
    if (took === 0)
      throw new UsageError(arg.startsWith('--') ? `unknown option ${arg}` : `unexpected argument "${arg}"`)
    i += took
  }
  if (parsed.write && parsed.recordId === undefined) throw new UsageError('--write needs --record-id ID')
  if (!parsed.write && parsed.recordId !== undefined)
    throw new UsageError('--record-id is only used with --write')
  if (parsed.recordId !== undefined && !/^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/.test(parsed.recordId)) {
    throw new UsageError('--record-id must be a 15 or 18 character Salesforce record id')
  }
  return parsed
}

async function checkOrgCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCheckOrgArgs(args)
  const path = parsed.configPath ?? defaultConfigPath(io.env)
  const config = await readConfig(path, io)
  if (!config) return 2
  if (parsed.flow !== undefined && !config.flows.some((f) => f.name === parsed.flow)) {
    io.stderr(`flow "${parsed.flow}" is not configured in ${path}\n`)
    return 2
  }
  // Logs go to stderr, so --json output on stdout stays parseable.
  const logger = createLogger({ level: io.env.LOG_LEVEL ?? 'warn', destination: process.stderr })
  const { report, recording } = await runOrgCheck(
    config,
    {
      write: parsed.write,
      ...(parsed.recordId !== undefined ? { recordId: parsed.recordId } : {}),
      ...(parsed.flow !== undefined ? { flow: parsed.flow } : {}),
      ...(parsed.recordDirectory !== undefined ? { recordDirectory: parsed.recordDirectory } : {}),
    },
    logger,
  )
  io.stdout(
    parsed.json
      ? `${JSON.stringify({ ...report, recording }, null, 2)}\n`
      : formatOrgReport(report, recording),
  )
  return report.exitCode
}

const yesNo = (value: boolean | null) => (value === null ? '-' : value ? 'yes' : 'no')

export function formatReport(report: EndpointReport): string {
  const lines = [
    `endpoint ${report.endpoint} (${report.protocol}://${report.host}:${report.port}): ${report.ok ? 'OK' : 'PROBLEM'}`,
    `  connected: ${yesNo(report.connected)}, logged in: ${yesNo(report.authenticated)}`,
  ]
  if (report.serverIdentification) {
    lines.push(`  server: ${report.serverIdentification.split('\n').join(' | ')}`)
  }
  if (report.loginBanner) lines.push(`  banner: ${report.loginBanner.split('\n').join(' | ')}`)
  if (report.hostKey) {
    const key = report.hostKey
    const pin =
      key.matchesPin === null ? 'not pinned' : key.matchesPin ? 'matches the pin' : 'DOES NOT match the pin'
    lines.push(`  host key: ${key.keyType} ${key.fingerprint} (${pin})`)
  }
  if (report.tls) {
    const tls = report.tls
    lines.push(
      `  TLS: ${tls.version ?? '?'} ${tls.cipher ?? ''}, ${tls.verified ? 'verified' : `NOT verified (${tls.verificationError})`}`,
    )
    if (tls.certificate) {
      const c = tls.certificate
      lines.push(`  certificate: ${c.subject}, issued by ${c.issuer}, valid ${c.validFrom} to ${c.validTo}`)
      lines.push(`    SHA-256 ${c.fingerprint256}`)
    }
  }
  if (report.features) {
    const f = report.features
    const offered = [
      ['MLSD', f.mlsd],
      ['EPSV', f.epsv],
      ['UTF8', f.utf8],
      ['SIZE', f.size],
      ['MDTM', f.mdtm],
      ['REST STREAM', f.restStream],
      ['posix-rename', f.posixRename],
      ['statvfs', f.statvfs],
      ['hardlink', f.hardlink],
      ['fsync', f.fsync],
      ['check-file', f.checkFile],
    ]
      .filter(([, on]) => on)
      .map(([name]) => name)
    const hashes = [...f.hashCommands, ...f.hashAlgorithms.map((a) => `HASH ${a}`)]
    lines.push(`  features: ${[...offered, ...hashes].join(', ') || 'none listed'}`)
  }
  for (const dir of report.directories) {
    const state = !dir.exists
      ? 'missing'
      : !dir.isDirectory
        ? 'not a directory'
        : `writable ${yesNo(dir.writable)}, rename ${yesNo(dir.canRename)}`
    lines.push(
      `  ${dir.ok ? 'ok  ' : 'FAIL'} ${dir.path}: ${state}${dir.error ? ` (${dir.error.code}: ${dir.error.message})` : ''}`,
    )
  }
  if (report.clock) {
    const c = report.clock
    lines.push(`  clock skew: ${c.skewSeconds} s (±${c.precisionSeconds} s, from ${c.source})`)
  }
  for (const warning of report.warnings) lines.push(`  warning: ${warning}`)
  if (report.error) lines.push(`  error: ${report.error.code}: ${report.error.message}`)
  lines.push(`  took ${report.timings.totalMs} ms`)
  return `${lines.join('\n')}\n`
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (isMain) {
  runCli(process.argv.slice(2), {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(`fatal: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exitCode = 1
    },
  )
}
