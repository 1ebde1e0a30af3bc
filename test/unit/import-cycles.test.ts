/**
 * No import circle under src/ or routes/ (issue 12). `npm run lint` runs the
 * same rule through the depcruise CLI; this test keeps it checked by `tap`
 * too, and proves on a throwaway project that the rule does catch a circle —
 * including one closed by a type-only import.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cruise, type ICruiseResult } from 'dependency-cruiser'
import extractDepcruiseConfig from 'dependency-cruiser/config-utl/extract-depcruise-config'
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config'
import t from 'tap'

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))

/** Cruises `paths` under `baseDir` with the repository's own rule file and options. */
async function cruiseWithRepoRules(baseDir: string, paths: string[]): Promise<ICruiseResult> {
  const config = await extractDepcruiseConfig(join(repoRoot, '.dependency-cruiser.cjs'))
  const tsConfigFile = join(baseDir, 'tsconfig.json')
  const { output } = await cruise(
    paths,
    {
      ...config.options,
      tsConfig: { fileName: tsConfigFile },
      baseDir,
      validate: true,
      ruleSet: { forbidden: config.forbidden ?? [] },
    },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  )
  if (typeof output === 'string') throw new Error('expected a cruise result object, got text')
  return output
}

function circles(result: ICruiseResult): string[] {
  return result.summary.violations
    .filter((v) => v.rule.name === 'no-circular')
    .map((v) => [v.from, ...(v.cycle ?? []).map((step) => step.name)].join(' → '))
}

t.test('src/ and routes/ have no import circle, type-only imports included', async (t) => {
  const result = await cruiseWithRepoRules(repoRoot, ['src', 'routes'])
  t.ok(result.summary.totalCruised > 100, `cruised ${result.summary.totalCruised} modules`)
  t.same(circles(result), [], 'no circles')
  t.equal(result.summary.error, 0, 'no rule errors')
})

t.test('the rule catches a circle closed by a type-only import', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'import-cycles-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  )
  await writeFile(
    join(dir, 'engine.ts'),
    "import { helper } from './helper.js'\nexport const run = () => helper()\n",
  )
  await writeFile(
    join(dir, 'helper.ts'),
    "import type { Registry } from './registry.js'\nexport const helper = (r?: Registry) => r\n",
  )
  await writeFile(
    join(dir, 'registry.ts'),
    "import type { run } from './engine.js'\nexport interface Registry { run: typeof run }\n",
  )
  t.same(
    circles(await cruiseWithRepoRules(dir, ['.'])),
    ['engine.ts → helper.ts → registry.ts → engine.ts'],
    'the circle is reported once, module by module',
  )

  await writeFile(join(dir, 'registry.ts'), 'export interface Registry { run: () => void }\n')
  t.same(
    circles(await cruiseWithRepoRules(dir, ['.'])),
    [],
    'without the type-only import there is no circle',
  )
})
