import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { generatedPart, renderConfigReference, spliceReference } from '../../scripts/config-reference.js'
import { parseConfig } from '../../src/config/load.js'
import { ConfigSchema } from '../../src/config/schema.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (path: string) => readFileSync(join(repo, path), 'utf8')
const markdownFiles = [
  'README.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]

t.test(
  'docs/configuration.md holds what the config schema generates (run `npm run docs:config` if not)',
  async (t) => {
    const committed = read('docs/configuration.md')
    t.ok(generatedPart(committed) !== undefined, 'the generated part is marked')
    t.equal(committed, spliceReference(committed, renderConfigReference()))
  },
)

t.test('the reference follows the schema: a changed default or description shows', async (t) => {
  const committed = read('docs/configuration.md')
  const schema = structuredClone(ConfigSchema) as unknown as {
    properties: { queue: { properties: { maxQueuedItems: { default: number; description: string } } } }
  }
  const key = schema.properties.queue.properties.maxQueuedItems
  key.default = 123
  const changed = renderConfigReference(schema)
  t.not(spliceReference(committed, changed), committed, 'a changed default makes the committed copy stale')
  t.match(changed, /\| `queue\.maxQueuedItems` \| integer \| `123` \|/)
  key.description = 'a new meaning'
  t.match(renderConfigReference(schema), /\| a new meaning \|$/m)
})

t.test('every key the schema accepts has a row with its description', async (t) => {
  const reference = renderConfigReference()
  for (const path of [
    'server.apiKeys',
    'store.retention.idempotencyKeyDays',
    'salesforce.auth[type=jwt].privateKey',
    'endpoints.<name>.tls.maxVersion',
    'flows[].match[type=filename].pattern',
    'flows[].readiness[mode=stable].minAgeSeconds',
    'flows[].review.dropZone.fileName',
    'flows[].writeBack.onNothingToExport',
    'flows[].fields.<name>.values',
  ]) {
    t.match(reference, `| \`${path}\` |`, path)
  }
  const undescribed = reference
    .split('\n')
    .filter((line) => line.startsWith('| `') && line.endsWith('|  |'))
    .map((line) => line.split(' | ')[0])
  t.same(undescribed, [], 'no key without a description')
  t.notMatch(
    reference,
    /\bundefined\b|\[object Object\]/,
    'no value rendered as undefined or [object Object]',
  )
})

t.test("README's minimal configuration is a valid configuration", async (t) => {
  const block = /## A minimal configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(read('README.md'))?.[1]
  if (!block) throw new Error('README.md has no minimal configuration block')
  const config = parseConfig(block, 'yaml', {
    BRIDGE_API_KEY: 'readme-key-0123456789abcdef',
    SF_CLIENT_ID: 'client-id',
    SF_CLIENT_SECRET: 'client-secret',
    PARTNER_SFTP_PASSWORD: 'partner-password',
  })
  t.equal(config.flows[0]?.name, 'partner-docs')
  t.equal(config.flows[0]?.kind, 'inbound')
})

t.test(
  "docs/features.md's product-catalogue flow is a valid flow of README's minimal configuration",
  async (t) => {
    const minimal = /## A minimal configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(read('README.md'))?.[1]
    const flow = /## Product catalogues[\s\S]*?```yaml\n([\s\S]*?)```/.exec(read('docs/features.md'))?.[1]
    if (!minimal || !flow)
      throw new Error('README.md or docs/features.md lacks the minimal configuration or the catalogue flow')
    const config = parseConfig(`${minimal}${flow}`, 'yaml', {
      BRIDGE_API_KEY: 'readme-key-0123456789abcdef',
      SF_CLIENT_ID: 'client-id',
      SF_CLIENT_SECRET: 'client-secret',
      PARTNER_SFTP_PASSWORD: 'partner-password',
    })
    t.match(config.flows[1], {
      name: 'product-catalogue',
      existing: 'version',
      target: { fields: { Language__c: '{lang}' } },
    })
  },
)

t.test("docs/features.md's atomic-batch lines make a valid catalogue flow", async (t) => {
  const minimal = /## A minimal configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(read('README.md'))?.[1]
  const [flow, atomic] = [
    ...(/## Product catalogues[\s\S]*?(?=\n## )/.exec(read('docs/features.md'))?.[0] ?? '').matchAll(
      /```yaml\n([\s\S]*?)```/g,
    ),
  ].map((m) => m[1] as string)
  if (!minimal || !flow || !atomic)
    throw new Error('docs/features.md lacks the catalogue flow or its atomic lines')
  const withAtomic = flow.replace(/^ {4}existing: version\n/m, atomic)
  const config = parseConfig(`${minimal}${withAtomic}`, 'yaml', {
    BRIDGE_API_KEY: 'readme-key-0123456789abcdef',
    SF_CLIENT_ID: 'client-id',
    SF_CLIENT_SECRET: 'client-secret',
    PARTNER_SFTP_PASSWORD: 'partner-password',
  })
  t.match(config.flows[1], { name: 'product-catalogue', existing: 'version', batch: { atomic: true } })
})
t.test(
  "docs/features.md's catalogue-batches flow (an index file) is a valid flow of README's minimal configuration",
  async (t) => {
    const minimal = /## A minimal configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(read('README.md'))?.[1]
    const flow = /## Catalogue batches with an index file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(
      read('docs/features.md'),
    )?.[1]
    if (!minimal || !flow)
      throw new Error('README.md or docs/features.md lacks the minimal configuration or the index flow')
    const config = parseConfig(`${minimal}${flow}`, 'yaml', {
      BRIDGE_API_KEY: 'readme-key-0123456789abcdef',
      SF_CLIENT_ID: 'client-id',
      SF_CLIENT_SECRET: 'client-secret',
      PARTNER_SFTP_PASSWORD: 'partner-password',
    })
    t.match(config.flows[1], {
      name: 'catalogue-batches',
      index: { required: true, fileColumn: 'File', names: ['index.csv', 'index.json', 'index.xml'] },
      match: [{ type: 'index', key: { ProductCode: '{index.SKU}' } }],
    })
  },
)

/** GitHub's heading anchors: lower case, punctuation dropped, spaces → hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const line of withoutFences(markdown).split('\n')) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1]
    if (heading === undefined) continue
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    found.add(n === 0 ? slug : `${slug}-${n}`)
  }
  return found
}

/** Fenced blocks hold examples, not headings. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '')
}

/** Inline code holds examples too, not links. */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '')
}

t.test('every relative link in README.md and docs/ leads to a file and heading that exist', async (t) => {
  let checked = 0
  for (const file of markdownFiles) {
    const text = read(file)
    for (const [, target] of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!target || /^[a-z]+:/i.test(target)) continue
      const [path = '', anchor] = target.split('#')
      const destination = path === '' ? join(repo, file) : resolve(repo, dirname(file), path)
      const shown = `${file}: ${target}`
      checked++
      if (!existsSync(destination)) {
        t.fail(`${shown} (no ${relative(repo, destination)})`)
        continue
      }
      if (anchor !== undefined && destination.endsWith('.md')) {
        t.ok(anchors(readFileSync(destination, 'utf8')).has(anchor), `${shown} names a heading`)
      }
    }
  }
  t.ok(checked > 20, `${checked} links checked`)
})
