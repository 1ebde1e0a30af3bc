/**
 * Import rules checked by `npm run lint` (dependency-cruiser) and by
 * test/unit/import-cycles.test.ts.
 *
 * Type-only imports count: `import type` leaves no runtime edge, but a circle
 * closed by one still ties the modules' designs together (the circle issue 12
 * named, inbound-engine → resubmissions → review-engine → inbound-engine, was
 * closed by a type-only import). A shared type belongs to the module that owns
 * the concept — usually a port or domain — not to one of its users.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Modules under src/ and routes/ must not import each other in a circle (type-only imports included). ' +
        'Move the shared type or function to the module that owns it, or inject the dependency.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // Keep `import type` edges, which the TypeScript compiler would erase.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
}
