/**
 * Import rules checked by `npm run lint` (dependency-cruiser); the circle
 * rule also by test/unit/import-cycles.test.ts. Besides no circles, the
 * layers: routes → flows/services → runs, domain, ports ← adapters; the run
 * driver knows no flow; SDKs only in adapters, fastify only at the edge.
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
    {
      name: 'domain-stays-pure',
      severity: 'error',
      comment:
        'src/domain/ is matching rules, templates, parsers, the item state machine and typed errors: no I/O. ' +
        'It may use config types and port types, nothing that does work.',
      from: { path: '^src/domain/' },
      to: {
        path: '^(routes/|src/(adapters|flows|runs|services|transfer|sandbox|plugins|queue|logging)/|src/[^/]+[.]ts$)',
      },
    },
    {
      name: 'ports-know-no-implementation',
      severity: 'error',
      comment: 'A port is an interface; adapters implement it, flows use it.',
      from: { path: '^src/ports/' },
      to: { path: '^(routes/|src/(adapters|flows|runs|services|transfer|sandbox|plugins)/)' },
    },
    {
      name: 'run-driver-knows-no-flow',
      severity: 'error',
      comment:
        'src/runs/ drives runs of any kind: it knows nothing about FTP, S-Drive, configuration or a flow kind.',
      from: { path: '^src/runs/' },
      to: { path: '^(routes/|src/(adapters|flows|services|transfer|sandbox|plugins|config)/)' },
    },
    {
      name: 'flows-use-ports-not-adapters',
      severity: 'error',
      comment:
        'Flows, services and the byte path reach servers and Salesforce through ports (src/ports/), never an adapter.',
      from: { path: '^src/(flows|services|transfer|runs)/' },
      to: { path: '^(routes/|src/(adapters|sandbox|plugins)/)' },
    },
    {
      name: 'sdks-only-in-adapters',
      severity: 'error',
      comment: 'Only src/adapters/ (and the sandbox emulators) import the SDKs of servers and databases.',
      from: { path: '^src/', pathNot: '^src/(adapters|sandbox)/' },
      to: {
        path: 'node_modules/(ssh2|ssh2-sftp-client|basic-ftp|jsforce|@jsforce/jsforce-node|pg|better-sqlite3)/',
      },
    },
    {
      name: 'fastify-only-at-the-edge',
      severity: 'error',
      comment: 'Only routes/, src/app.ts, src/server*.ts, src/plugins/ and the sandbox import fastify.',
      from: { path: '^src/(domain|ports|runs|flows|services|transfer|adapters|config|queue|logging)/' },
      to: { path: 'node_modules/(fastify|@fastify/[^/]+)/' },
    },
  ],
  options: {
    // Keep `import type` edges, which the TypeScript compiler would erase.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
}
