/**
 * A ts-node transpiler (named in tsconfig.tap.json) that hands each file to esbuild.
 *
 * tap loads TypeScript through ts-node, whose transpile-only mode still runs the
 * TypeScript compiler on every imported file: an end-to-end test file spent about 6 s
 * of CPU in typescript.js before its first subtest, on every run. esbuild does the same
 * type stripping in well under a second, and is what `tsx` (the dev and demo runner)
 * uses already, so the code under test is compiled the same way there and here.
 * Type checking stays where it was: `tsc --noEmit` in `npm run lint`.
 */
const { transformSync } = require('esbuild')

const tsconfigRaw = { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: false } }

exports.create = ({ nodeModuleEmitKind }) => ({
  transpile(input, { fileName }) {
    const { code, map } = transformSync(input, {
      loader: fileName.endsWith('x') ? 'tsx' : 'ts',
      format: nodeModuleEmitKind === 'nodecjs' || nodeModuleEmitKind === 'cjs' ? 'cjs' : 'esm',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: fileName,
      tsconfigRaw,
    })
    return { outputText: code, sourceMapText: map }
  },
})
