/**
 * The files of the user project `test:package` creates: what a team writes to use spool, once as
 * an ESM package and once as a CommonJS one (the same TypeScript, compiled by the project's own
 * `tsc` under NodeNext, which picks the module format from package.json).
 *
 * @module
 */

/** The project's files, by path relative to its root. */
export function userProject(): Record<string, string> {
  return {
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          noImplicitOverride: true,
          skipLibCheck: false,
          types: ['node'],
          rootDir: 'src',
          outDir: 'dist',
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    // The strictest flags on everything but the CDK app: aws-cdk-lib's own declarations do not
    // compile under exactOptionalPropertyTypes, spool's must.
    'tsconfig.strictest.json': `${JSON.stringify(
      {
        extends: './tsconfig.json',
        compilerOptions: {
          exactOptionalPropertyTypes: true,
          noPropertyAccessFromIndexSignature: true,
          noImplicitReturns: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          noFallthroughCasesInSwitch: true,
        },
        exclude: ['src/infra.ts'],
      },
      null,
      2,
    )}\n`,
    // What producers import: the task's name, schema and result type, without the handler.
    'src/contracts.ts': `import { defineTaskContract } from 'spool-tasks';
import { z } from 'zod';

export const greet = defineTaskContract({
  name: 'greet',
  schema: z.object({ name: z.string().min(1) }),
}).returns<string>();
`,
    // What workers import: the handlers.
    'src/tasks.ts': `import { implementTask } from 'spool-tasks';
import { greet as greetContract } from './contracts.js';

export const greet = implementTask(greetContract, async ({ name }, ctx) => {
  ctx.logger.info('HANDLER_ONLY_MARKER', { name });
  return \`Hello, \${name}!\`;
});
`,
    'src/app.ts': `import { type Backend, createSpool } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { greet } from './tasks.js';

/** The app: on the backend the CLI passes (--backend), else the embedded file .spool/app.db. */
export default function app({ backend }: { backend?: Backend } = {}) {
  return createSpool({ backend: backend ?? openEmbeddedBackend({ path: '.spool/app.db' }), tasks: [greet] });
}
`,
    // Top-level await is ESM only: both projects use a main function, as CommonJS code must.
    'src/run.ts': `import { openEmbeddedBackend } from 'spool-tasks/embedded';
import app from './app.js';
import { greet } from './tasks.js';

async function main(): Promise<void> {
  const spool = app({ backend: openEmbeddedBackend({ path: ':memory:' }) });
  const handle = await spool.enqueue(greet, { name: 'Ada' });
  // @ts-expect-error a number is not a name: wrong arguments do not compile
  void (() => spool.enqueue(greet, { name: 1 }));
  const worker = spool.worker({ concurrency: 2 });
  await worker.start();
  const result: string = await handle.result({ timeoutMs: 20_000 });
  await worker.stop();
  console.log(JSON.stringify({ state: await handle.status(), result }));
  await spool.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`,
    'src/enqueue.ts': `import { createSpool } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { greet } from './contracts.js';

// A producer: it knows the contract, not the handler, and no worker runs in this process.
async function main(): Promise<void> {
  const spool = createSpool({ backend: openEmbeddedBackend({ path: '.spool/app.db' }), tasks: [] });
  const handle = await spool.enqueue(greet, { name: process.argv[2] ?? 'nobody' });
  const result: string = await handle.result({ timeoutMs: 30_000 });
  console.log(JSON.stringify(result));
  await spool.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`,
    'src/worker.ts': `import { createSpool } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { createSqsHandler } from 'spool-tasks/lambda';
import { greet } from './tasks.js';

export const handler = createSqsHandler(() => createSpool({ backend: openAwsBackend(), tasks: [greet] }));
`,
    'src/producer.ts': `import { createSpool } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { greet } from './contracts.js';

let spool: ReturnType<typeof createSpool> | undefined;

export async function handler(event: { readonly name: string }): Promise<{ taskId: string }> {
  spool ??= createSpool({ backend: openAwsBackend(), tasks: [] });
  const run = await spool.enqueue(greet, { name: event.name });
  return { taskId: run.id };
}
`,
    'src/infra.ts': `import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { TaskQueue } from 'spool-tasks/cdk';

const app = new App();
const stack = new Stack(app, 'UserStack');
const tasks = new TaskQueue(stack, 'Tasks', { workerEntry: 'src/worker.ts' });
tasks.grantEnqueue(new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
app.synth();
`,
  };
}
