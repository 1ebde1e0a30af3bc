/**
 * JSON Schema validation of the configuration (ajv) with errors as key paths.
 *
 * TypeBox unions become `anyOf`, and ajv reports every branch's failures for
 * an `anyOf` (and applies no defaults inside it). Before compiling, unions
 * are rewritten: a union of literals becomes an `enum`, and a union of
 * objects told apart by a literal property (`type`, `mode`) becomes a
 * `oneOf` with ajv's `discriminator`, which validates only the branch the
 * discriminator names, reports only its errors, and applies its defaults.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'
import { ConfigSchema } from './schema.js'

let compiled: ValidateFunction | undefined

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({
      useDefaults: true,
      allErrors: true,
      coerceTypes: false,
      discriminator: true,
      // verbose puts parentSchema on each error: needed to name a discriminator's allowed values.
      verbose: true,
      strict: true,
    })
    compiled = ajv.compile(prepareSchema(JSON.parse(JSON.stringify(ConfigSchema))) as object)
  }
  return compiled
}

/** Validates `data` in place (ajv fills in defaults) and returns the problems found. */
export function validateConfigSchema(data: unknown): ConfigIssue[] {
  const validate = validator()
  if (validate(data)) return []
  const issues: ConfigIssue[] = []
  const seen = new Set<string>()
  for (const error of validate.errors ?? []) {
    const found = describe(error, data)
    if (!found) continue
    const key = `${found.path}\u0000${found.message}`
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(found)
  }
  return issues
}

function describe(error: ErrorObject, root: unknown): ConfigIssue | undefined {
  const path = pointerToPath(error.instancePath, root)
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return issue([...path, String(params.missingProperty)], 'required')
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      const keyPattern = firstPatternProperty(error.parentSchema)
      if (keyPattern !== undefined) return issue([...path, key], `invalid name: must match ${keyPattern}`)
      return issue([...path, key], 'unknown key')
    }
    case 'discriminator': {
      const tag = String(params.tag)
      const allowed = `must be one of ${discriminatorValues(error.parentSchema, tag)}`
      return issue([...path, tag], params.tagValue === undefined ? `required, ${allowed}` : allowed)
    }
    case 'enum':
      return issue(path, `must be one of ${listValues(params.allowedValues)}`)
    case 'const':
      return issue(path, `must be ${JSON.stringify(params.allowedValue)}`)
    case 'minLength':
      if (params.limit === 1) return issue(path, 'must not be empty')
      return issue(path, error.message ?? 'is invalid')
    default:
      return issue(path, error.message ?? 'is invalid')
  }
}

/** JSON pointer → key path; a segment is an index only where the data there is an array. */
function pointerToPath(pointer: string, root: unknown): KeyPath {
  if (pointer === '') return []
  const path: (string | number)[] = []
  let node: unknown = root
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(node)) {
      const index = Number(segment)
      path.push(index)
      node = node[index]
    } else {
      path.push(segment)
      node = isPlainObject(node) ? node[segment] : undefined
    }
  }
  return path
}

function firstPatternProperty(schema: unknown): string | undefined {
  if (!isPlainObject(schema) || !isPlainObject(schema.patternProperties)) return undefined
  return Object.keys(schema.patternProperties)[0]
}

function discriminatorValues(schema: unknown, tag: string): string {
  if (!isPlainObject(schema) || !Array.isArray(schema.oneOf)) return 'the allowed values'
  return listValues(schema.oneOf.map((branch) => tagConst(branch, tag)))
}

function listValues(values: unknown): string {
  return Array.isArray(values) ? values.map((v) => JSON.stringify(v)).join(', ') : String(values)
}

function tagConst(branch: unknown, tag: string): unknown {
  if (!isPlainObject(branch) || !isPlainObject(branch.properties)) return undefined
  const property = branch.properties[tag]
  return isPlainObject(property) ? property.const : undefined
}

/** Rewrites unions into forms ajv reports precisely (see the module comment). Exported for tests. */
export function prepareSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prepareSchema)
  if (!isPlainObject(node)) return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    // `default` and `const` hold data, not schemas.
    out[key] = key === 'default' || key === 'const' ? value : prepareSchema(value)
  }
  const branches = out.anyOf
  if (!Array.isArray(branches) || branches.length === 0) return out
  const { anyOf: _anyOf, ...rest } = out

  if (branches.every((b) => isPlainObject(b) && 'const' in b)) {
    const types = new Set(branches.map((b) => (b as Record<string, unknown>).type))
    return {
      ...rest,
      ...(types.size === 1 && [...types][0] !== undefined ? { type: [...types][0] } : {}),
      enum: branches.map((b) => (b as Record<string, unknown>).const),
    }
  }

  const tag = discriminatorOf(branches)
  if (tag === undefined) return out
  return { ...rest, type: 'object', discriminator: { propertyName: tag }, oneOf: branches }
}

function discriminatorOf(branches: unknown[]): string | undefined {
  const first = branches[0]
  if (!isPlainObject(first) || !isPlainObject(first.properties)) return undefined
  for (const candidate of Object.keys(first.properties)) {
    const values = branches.map((b) => tagConst(b, candidate))
    const required = branches.every(
      (b) => isPlainObject(b) && Array.isArray(b.required) && b.required.includes(candidate),
    )
    if (required && values.every((v) => typeof v === 'string') && new Set(values).size === values.length) {
      return candidate
    }
  }
  return undefined
}
