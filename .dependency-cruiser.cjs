/**
 * Import rules of lib/ (checked by `npm run lint:imports`, part of `npm test`).
 * The core is backend-neutral; adapters (aws, embedded) and front ends (cli, local, testing)
 * depend on it, never the other way round; the runtime (worker/) never reaches into the
 * producer/operator API (client/).
 */
const CORE = '^lib/(backend|client|worker|task|protocol|schedule|log)/|^lib/index\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'runtime-not-client',
      comment:
        'The worker, the processor and the Lambda handler are built from the runtime context (lib/worker/runtime.ts), not from the client (Spool, producers).',
      severity: 'error',
      from: { path: '^lib/worker/|^lib/aws/lambda\\.ts$' },
      to: { path: '^lib/client/' },
    },
    {
      name: 'core-not-adapters',
      comment: 'The core never imports an adapter or a front end: they implement its ports.',
      severity: 'error',
      from: { path: CORE },
      to: { path: '^lib/(aws|embedded|cli|local|testing)/|^infra/' },
    },
    {
      name: 'core-no-aws-sdk',
      comment: 'Only lib/aws (and the lazy loader lib/peers.ts) import the AWS SDK.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/aws/|^lib/peers\\.ts$' },
      to: { path: '@aws-sdk/' },
    },
    {
      name: 'sqlite-only-embedded',
      comment: 'Only the embedded adapter (and the lazy loader lib/peers.ts) import better-sqlite3.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/embedded/|^lib/peers\\.ts$' },
      to: { path: 'better-sqlite3' },
    },
    {
      name: 'no-circular',
      comment: 'Modules of lib/ import each other in one direction only (a cycle of type-only imports is allowed).',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['spool-source', 'import', 'types', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
