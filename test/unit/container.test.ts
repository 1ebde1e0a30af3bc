/**
 * The Dockerfile and .dockerignore, checked statically (no Docker daemon is
 * needed): the HEALTHCHECK runs the script that reads the configuration the
 * service reads, nothing reads $PORT, the CLI of package.json "bin" is linked
 * onto PATH from where the build puts it, and the build context leaves out
 * local state and secrets but keeps everything the Dockerfile copies.
 */
import { existsSync, readFileSync } from 'node:fs'
import { posix } from 'node:path'
import t from 'tap'
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.js'

const root = new URL('../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
/** The Dockerfile's instructions, without its comments (a comment may say "PORT"). */
const dockerfile = read('Dockerfile')
  .split('\n')
  .filter((l) => !l.trimStart().startsWith('#'))
  .join('\n')
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
const pkg = JSON.parse(read('package.json')) as {
  bin: Record<string, string>
  scripts: Record<string, string>
}
const tsconfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: { rootDir: string; outDir: string } }

/** The source file tsc compiles to `built` (rootDir → outDir, .ts → .js). */
function sourceOf(built: string): string {
  const { rootDir, outDir } = tsconfig.compilerOptions
  const relative = posix.relative(posix.normalize(outDir), posix.normalize(built))
  return posix.join(rootDir, relative).replace(/\.js$/, '.ts')
}

t.test("the image's CMD and npm start run the service with its node flags", async (t) => {
  // The last CMD of the runtime stage (the HEALTHCHECK's CMD comes before it).
  const cmd = [...runtimeStage.matchAll(/^CMD (\[.*\])$/gm)].at(-1)?.[1]
  t.ok(cmd, 'the runtime stage has a CMD')
  t.same(JSON.parse(cmd as string), ['node', ...SERVICE_NODE_FLAGS, 'dist/src/server.js'])
  t.equal(pkg.scripts.start, ['node', ...SERVICE_NODE_FLAGS, 'dist/src/server.js'].join(' '))
})

t.test('HEALTHCHECK runs the config-reading script; nothing reads $PORT', async (t) => {
  const check = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])/.exec(runtimeStage)
  t.ok(check, 'a HEALTHCHECK in exec form')
  const command = JSON.parse(check?.[1] ?? '[]') as string[]
  t.same(command, ['node', 'dist/src/healthcheck.js'])
  t.ok(existsSync(new URL(sourceOf('dist/src/healthcheck.js'), root)), 'its source is src/healthcheck.ts')
  t.notMatch(dockerfile, /\bPORT\b/, 'no PORT variable anywhere')
  t.match(
    runtimeStage,
    /ENV (?:[^\n]*\\\n)*[^\n]*BRIDGE_CONFIG=\/config\/bridge\.yaml/,
    'the service and the check read $BRIDGE_CONFIG',
  )
  t.match(read('src/healthcheck.ts'), /process\.env\.BRIDGE_CONFIG/)
  t.match(read('src/server.ts'), /process\.env\.BRIDGE_CONFIG/)
  t.match(runtimeStage, /WORKDIR \/app\n/)
})

t.test('the CLI of package.json "bin" is on PATH in the image', async (t) => {
  const entries = Object.entries(pkg.bin)
  t.equal(entries.length, 1)
  const [name, path] = entries[0] as [string, string]
  t.match(runtimeStage, new RegExp(`ln -s /app/${path.replace(/[.]/g, '\\.')} /usr/local/bin/${name}\\b`))
  t.match(runtimeStage, new RegExp(`chmod 755 /app/${path.replace(/[.]/g, '\\.')}`), 'executable')
  t.match(
    runtimeStage,
    /COPY --from=build [^\n]*\/app\/dist \.\/dist/,
    'the compiled code is where the link points',
  )
  const source = sourceOf(path)
  t.equal(source, 'src/cli.ts')
  t.match(read(source), /^#!\/usr\/bin\/env node\n/, 'the script starts with a shebang (tsc keeps it)')
  t.match(
    read(source),
    /realpathSync\(process\.argv\[1\]\)/,
    'it knows it is the main module through a symlink',
  )
})

t.test('.dockerignore keeps local state and secrets out, and everything the build copies in', async (t) => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  const ignored = (path: string) =>
    patterns.some((p) => {
      const re = new RegExp(`^${p.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`)
      return re.test(path)
    })
  for (const path of [
    'node_modules',
    '.git',
    'dist',
    '.tap',
    'coverage',
    '.env',
    '.env.local',
    'bridge.sqlite',
    'bridge.sqlite-wal',
    'data',
    'bridge.yaml',
  ])
    t.ok(ignored(path), `${path} is not sent to the daemon`)
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
    (m[1] as string).split(/\s+/),
  )
  t.same(
    copied.sort(),
    [
      'package-lock.json',
      'package.json',
      'package.json',
      'public',
      'routes',
      'schemas',
      'src',
      'tsconfig.json',
    ].sort(),
  )
  for (const path of copied) t.notOk(ignored(path), `${path}, which the Dockerfile copies, is in the context`)
})
