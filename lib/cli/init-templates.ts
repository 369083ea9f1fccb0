/**
 * The files `spool init` writes: a working project on spool. Tasks split into contracts (what
 * producers import) and handlers (what workers import), an app module for the CLI, a Lambda worker
 * entry, a CDK app with `TaskQueue`, and a vitest test on `spool-tasks/testing`.
 *
 * @module
 */

/** What the templates are filled in with. */
export interface InitValues {
  /** The project's package name. */
  readonly name: string;
  /** The `spool-tasks` dependency: a version range, or a path or URL of a tarball. */
  readonly spoolSpec: string;
  /** Versions of the other dependencies, by package name. */
  readonly versions: Readonly<Record<string, string>>;
}

/** The dependencies a new project gets. */
export const INIT_DEPENDENCIES = [
  'zod',
  'better-sqlite3',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-scheduler',
  '@aws-sdk/client-sqs',
  '@aws-sdk/lib-dynamodb',
  '@aws-sdk/util-dynamodb',
  'aws-cdk-lib',
  'constructs',
] as const;
/** The development dependencies a new project gets. */
export const INIT_DEV_DEPENDENCIES = ['@types/node', 'aws-cdk', 'esbuild', 'tsx', 'typescript', 'vitest'] as const;

/** The project's files, by path relative to its directory. */
export function initFiles(values: InitValues): Record<string, string> {
  const version = (name: string) => values.versions[name] ?? 'latest';
  const pick = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, version(n)]));
  const manifest = {
    name: values.name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20.12' },
    scripts: {
      dev: 'spool dev --app src/app.ts',
      enqueue: 'spool enqueue hello.greet --app src/app.ts --wait',
      test: 'tsc --noEmit && vitest run',
      synth: 'cdk synth --quiet',
      deploy: 'cdk deploy',
      'deploy:local': `spool local start && spool provision --endpoint http://127.0.0.1:4566 --prefix ${prefixOf(values.name)} --dotenv .spool/local.env`,
      'worker:local':
        'node --env-file=.spool/local.env node_modules/spool-tasks/bin/spool.mjs worker --backend aws --app src/app.ts',
      'stop:local': 'spool local stop',
    },
    dependencies: { 'spool-tasks': values.spoolSpec, ...pick(INIT_DEPENDENCIES) },
    devDependencies: pick(INIT_DEV_DEPENDENCIES),
    // npm 11 runs a dependency's install script only when allowed here: better-sqlite3 builds
    // (or downloads) its native addon in one, esbuild checks its binary in one.
    allowScripts: { 'better-sqlite3': true, esbuild: true },
  };
  return {
    'package.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          types: ['node'],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          outDir: 'dist',
        },
        include: ['src', 'infra', 'test'],
      },
      null,
      2,
    )}\n`,
    'cdk.json': `${JSON.stringify({ app: 'node --import tsx infra/app.ts' }, null, 2)}\n`,
    '.gitignore': 'node_modules/\ndist/\ncdk.out/\n.spool/\n',
    'src/contracts.ts': `/**
 * Task contracts: each task's name, argument schema and result type, without its handler.
 * Producers (a web server, another Lambda) import only this file, so their bundles stay small.
 */

import { defineTaskContract } from 'spool-tasks';
// zod/mini keeps Lambda bundles small (a plain import of 'zod' bundles every locale).
import * as z from 'zod/mini';

export const greet = defineTaskContract({
  name: 'hello.greet',
  schema: z.object({ name: z.string().check(z.minLength(1, 'must not be empty')) }),
  // The same name is the same run, however often it is enqueued, while its record is kept
  // (resultTtlSeconds: 7 days by default).
  idempotencyKey: ({ name }) => name,
}).returns<{ greeting: string }>();
`,
    'src/tasks.ts': `/** The handlers: what workers run. */

import { implementTask } from 'spool-tasks';
import * as contracts from './contracts.js';

export const greet = implementTask(contracts.greet, async ({ name }, ctx) => {
  ctx.logger.info('greeting', { name, attempt: ctx.attempt });
  return { greeting: \`Hello, \${name}!\` };
});

export const tasks = [greet];
`,
    'src/app.ts': `/**
 * The app, for the \`spool\` command: \`npm run dev\` runs it on the embedded backend
 * (.spool/spool.db); \`--backend aws\` runs it on SQS and DynamoDB.
 */

import { type Backend, createSpool } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { tasks } from './tasks.js';

export default function app({ backend }: { backend?: Backend } = {}) {
  return createSpool({ backend: backend ?? openEmbeddedBackend(), tasks });
}
`,
    'src/worker.ts': `/** The worker Lambda: runs the tasks from the task queue's SQS event source. */

import { createSpool } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { createSqsHandler } from 'spool-tasks/lambda';
import { tasks } from './tasks.js';

export const handler = createSqsHandler(() => createSpool({ backend: openAwsBackend(), tasks }));
`,
    'infra/app.ts': `/** The CDK app: \`npm run deploy\` deploys the task queue and its worker Lambda. */

import { App, Stack } from 'aws-cdk-lib';
import { TaskQueue } from 'spool-tasks/cdk';

const app = new App();
const stack = new Stack(app, ${JSON.stringify(stackName(values.name))});
new TaskQueue(stack, 'Tasks', { workerEntry: 'src/worker.ts' });
app.synth();
`,
    'test/tasks.test.ts': `import { createTestSpool, runUntilIdle } from 'spool-tasks/testing';
import { describe, expect, it } from 'vitest';
import * as contracts from '../src/contracts.js';
import { tasks } from '../src/tasks.js';

describe('hello.greet', () => {
  it('GIVEN a name WHEN greet runs THEN it greets, once however often it is enqueued', async () => {
    const spool = createTestSpool({ tasks });
    const first = await spool.enqueue(contracts.greet, { name: 'Ada' });
    const again = await spool.enqueue(contracts.greet, { name: 'Ada' });
    expect(again.id).toBe(first.id);

    await runUntilIdle(spool);

    expect(await first.status()).toBe('succeeded');
    expect(await first.result()).toEqual({ greeting: 'Hello, Ada!' });
    await spool.close();
  });
});
`,
    'README.md': `# ${values.name}

Background tasks on [spool](https://www.npmjs.com/package/spool-tasks).

\`\`\`sh
npm install
npm run dev        # a worker on the embedded backend (.spool/spool.db); Ctrl-C to stop
npm run enqueue -- '{"name":"Ada"}'   # in another terminal: run hello.greet and wait for its result
npm test           # type-check and the tests (vitest, on a throwaway embedded backend)
\`\`\`

- \`src/contracts.ts\`: each task's name, arguments and result type. Producers import only this.
- \`src/tasks.ts\`: the handlers. \`src/app.ts\`: the app the \`spool\` command runs.
- \`src/worker.ts\`: the worker Lambda. \`infra/app.ts\`: the CDK app (\`npm run deploy\`, with AWS credentials).
- On a local AWS endpoint: \`npm run deploy:local\` starts one (ministack, needs Python 3) and
  creates the queues and table; \`npm run worker:local\` runs the worker against them;
  \`npm run stop:local\` stops the endpoint.
`,
  };
}

/** A resource prefix from a package name (spool provision takes 1–71 of [A-Za-z0-9_-]). */
function prefixOf(name: string): string {
  return (
    name
      .replace(/^@[^/]+\//, '')
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .slice(0, 64) || 'app'
  );
}

/** A CloudFormation stack name from a package name (letters, digits and hyphens). */
function stackName(name: string): string {
  const words = name
    .replace(/^@[^/]+\//, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  const joined = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(joined) ? `${joined}Stack` : `App${joined}Stack`;
}
