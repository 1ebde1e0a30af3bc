/**
 * Renders the configuration reference (docs/configuration.md, between the
 * markers) from the config schema, so the reference cannot drift from what
 * the loader validates. Used by scripts/write-config-reference.ts and by the
 * test that fails when the committed copy is stale.
 */
import { ConfigSchema } from '../src/config/schema.js'

export const BEGIN_MARKER =
  '<!-- BEGIN GENERATED CONFIG REFERENCE: `npm run docs:config` writes this part from src/config/schema.ts; do not edit by hand -->'
export const END_MARKER = '<!-- END GENERATED CONFIG REFERENCE -->'

/** The JSON Schema keywords TypeBox emits that the reference reads. */
interface Node {
  type?: string
  description?: string
  default?: unknown
  const?: unknown
  enum?: unknown[]
  anyOf?: Node[]
  properties?: Record<string, Node>
  required?: string[]
  patternProperties?: Record<string, Node>
  items?: Node
  pattern?: string
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  minItems?: number
  minProperties?: number
}

interface Row {
  path: string
  type: string
  required: boolean
  defaultValue: string
  allowed: string
  description: string
}

/** One table per top-level key; flows get one table per kind, endpoints one for `<name>`. */
export function renderConfigReference(schema: Node = ConfigSchema as unknown as Node): string {
  const sections: string[] = []
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    const required = schema.required?.includes(key) ?? false
    const variants = node.type === 'array' ? objectVariants(node.items) : undefined
    if (variants) {
      for (const [label, variant] of variants) {
        sections.push(section(`${key}[${label}]`, variant, `${key}[]`, required))
      }
    } else {
      sections.push(section(key, node, key, required))
    }
  }
  return `${sections.join('\n')}`
}

function section(title: string, node: Node, path: string, required: boolean): string {
  const rows: Row[] = []
  if (node.patternProperties) {
    const [name, value] = mapEntry(node)
    collect(value, `${path}.${name}`, rows)
  } else {
    collect(node, path, rows)
  }
  const intro = node.description ? escapeText(node.description) : ''
  const need = required && node.default === undefined ? 'Required.' : 'Optional.'
  const table = [
    '| key | type | default | allowed | description |',
    '|---|---|---|---|---|',
    ...rows
      .map((r) =>
        [
          `\`${r.path}\``,
          `${r.type}${r.required ? ' (required)' : ''}`,
          r.defaultValue,
          r.allowed,
          escapeText(r.description),
        ]
          .map((cell) => cell.replaceAll('|', '\\|'))
          .join(' | '),
      )
      .map((line) => `| ${line} |`),
  ]
  return `### \`${title}\`\n\n${`${need} ${intro}`.trim()}\n\n${table.join('\n')}\n`
}

/** Walks an object's properties; a nested object gets its own rows, a union of objects one set per branch. */
function collect(node: Node, path: string, rows: Row[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const childPath = `${path}.${key}`
    const required = node.required?.includes(key) ?? false
    const variants = objectVariants(child)
    if (variants) {
      rows.push(row(childPath, child, required))
      for (const [label, variant] of variants) collect(variant, `${childPath}[${label}]`, rows)
    } else if (child.type === 'array' && objectVariants(child.items)) {
      rows.push(row(childPath, child, required))
      for (const [label, variant] of objectVariants(child.items) ?? []) {
        collect(variant, `${childPath}[${label}]`, rows)
      }
    } else if (child.type === 'object' && child.properties) {
      rows.push(row(childPath, child, required))
      collect(child, childPath, rows)
    } else if (child.type === 'object' && child.patternProperties && isObject(mapEntry(child)[1])) {
      rows.push(row(childPath, child, required))
      const [name, value] = mapEntry(child)
      collect(value, `${childPath}.${name}`, rows)
    } else {
      rows.push(row(childPath, child, required))
    }
  }
}

function row(path: string, node: Node, required: boolean): Row {
  return {
    path,
    type: typeOf(node),
    // TypeBox lists defaulted keys as required; the loader fills them in, so they may be left out.
    required: required && node.default === undefined,
    defaultValue: node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``,
    allowed: allowedOf(node),
    description: node.description ?? '',
  }
}

/** Branches of a union of objects, labelled by the literal property that tells them apart (`type=jwt`). */
function objectVariants(node: Node | undefined): Array<[string, Node]> | undefined {
  const branches = node?.anyOf
  if (!branches?.every(isObject)) return undefined
  const first = branches[0]?.properties ?? {}
  const discriminator = Object.keys(first).find((key) =>
    branches.every((b) => b.properties?.[key]?.const !== undefined),
  )
  if (!discriminator) return undefined
  return branches.map((b) => [`${discriminator}=${String(b.properties?.[discriminator]?.const)}`, b])
}

function isObject(node: Node | undefined): node is Node {
  return node?.type === 'object' && node.properties !== undefined
}

function mapEntry(node: Node): [string, Node] {
  const value = Object.values(node.patternProperties ?? {})[0] ?? {}
  return ['<name>', value]
}

function typeOf(node: Node): string {
  if (node.const !== undefined) return 'literal'
  if (node.anyOf) {
    if (objectVariants(node)) return 'object (one of)'
    if (node.anyOf.every((b) => b.const !== undefined)) return 'string'
    return node.anyOf.map(typeOf).join(' or ')
  }
  if (node.type === 'array') return `array of ${node.items ? typeOf(node.items) : 'any'}`
  if (node.type === 'object' && node.patternProperties) {
    return `map of ${typeOf(mapEntry(node)[1])}`
  }
  return node.type ?? 'any'
}

/** Enumerations, patterns and bounds, as a reader checks a value against them. */
function allowedOf(node: Node): string {
  const parts: string[] = []
  if (node.const !== undefined) parts.push(`\`${JSON.stringify(node.const)}\``)
  if (node.anyOf?.every((b) => b.const !== undefined)) {
    parts.push(node.anyOf.map((b) => `\`${String(b.const)}\``).join(', '))
  }
  if (node.anyOf && !node.anyOf.every((b) => b.const !== undefined) && !objectVariants(node)) {
    parts.push(...node.anyOf.map(allowedOf).filter((a) => a !== ''))
  }
  if (node.pattern !== undefined) parts.push(`matches \`${node.pattern}\``)
  if (node.minimum !== undefined) parts.push(`≥ ${node.minimum}`)
  if (node.maximum !== undefined) parts.push(`≤ ${node.maximum}`)
  if (node.minLength === 1) parts.push('not empty')
  else if (node.minLength !== undefined) parts.push(`at least ${node.minLength} characters`)
  if (node.maxLength !== undefined) parts.push(`at most ${node.maxLength} characters`)
  if (node.minItems === 1) parts.push('at least one')
  else if (node.minItems !== undefined) parts.push(`at least ${node.minItems} items`)
  if (node.minProperties !== undefined) parts.push(`at least ${node.minProperties} entries`)
  if (node.type === 'array' && node.items) {
    const item = allowedOf(node.items)
    if (item !== '') parts.push(`each: ${item}`)
  }
  if (node.type === 'object' && node.patternProperties) {
    const key = Object.keys(node.patternProperties)[0]
    // TypeBox writes a key of any text as ^(.*)$: only a real pattern is worth showing.
    if (key !== undefined && key !== '^(.*)$') parts.push(`names match \`${key}\``)
    const value = allowedOf(mapEntry(node)[1])
    if (value !== '' && !isObject(mapEntry(node)[1])) parts.push(`each: ${value}`)
  }
  return parts.join('; ')
}

/**
 * Descriptions are one table cell of plain text: no line breaks, and no
 * `<name>` read as an HTML tag or `*` as emphasis.
 */
function escapeText(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('*', '\\*')
}

/** Replaces what lies between the markers of `document` with `generated`. */
export function spliceReference(document: string, generated: string): string {
  const begin = document.indexOf(BEGIN_MARKER)
  const end = document.indexOf(END_MARKER)
  if (begin < 0 || end < begin) throw new Error('docs/configuration.md lacks the generated-reference markers')
  return `${document.slice(0, begin + BEGIN_MARKER.length)}\n\n${generated}\n${document.slice(end)}`
}

/** What lies between the markers (without the blank lines around it), or undefined. */
export function generatedPart(document: string): string | undefined {
  const begin = document.indexOf(BEGIN_MARKER)
  const end = document.indexOf(END_MARKER)
  if (begin < 0 || end < begin) return undefined
  return document.slice(begin + BEGIN_MARKER.length, end)
}
