/**
 * docs/architecture.md stays true to the tree: its diagram names every
 * folder under src/ and src/flows/ and no folder that is gone, and every
 * source file the page names exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const page = readFileSync(join(root, 'docs/architecture.md'), 'utf8')
const diagram = /```mermaid\n([\s\S]*?)```/.exec(page)?.[1] ?? ''

const foldersIn = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((name) => statSync(join(root, dir, name)).isDirectory())
    .map((name) => `${dir}/${name}/`)

t.ok(diagram.length > 0, 'the page has a Mermaid diagram')

t.test('every folder under src/ and src/flows/ is in the diagram', async (t) => {
  for (const folder of [...foldersIn('src'), ...foldersIn('src/flows'), 'routes/']) {
    t.ok(diagram.includes(folder), `${folder} is in the diagram`)
  }
})

t.test('every folder the diagram names exists', async (t) => {
  const named = [...diagram.matchAll(/\b((?:src|routes)(?:\/[a-z-]+)*\/)/g)].map((m) => m[1] as string)
  t.ok(named.length >= 10)
  for (const folder of new Set(named)) t.ok(existsSync(join(root, folder)), `${folder} exists`)
})

t.test('every file the page names exists', async (t) => {
  const inCode = [...page.matchAll(/`([^`\s]+\.(?:ts|cjs))`/g)].map((m) => m[1] as string)
  t.ok(inCode.length >= 20)
  for (const name of new Set(inCode)) {
    const candidates = [
      name,
      join('src', name),
      join('src/runs', name),
      ...foldersIn('src/flows').map((f) => join(f, name)),
      join('src/transfer', name),
    ]
    t.ok(
      candidates.some((c) => existsSync(join(root, c))),
      `${name} exists (as named, or in src/runs, src/transfer or a flow folder)`,
    )
  }
})
