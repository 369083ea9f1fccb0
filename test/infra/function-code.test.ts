/**
 * The functions' code: the worker's entry (or code) is required, a relative entry resolves against
 * the working directory, and the lockfile and project root are found by walking up from the entry
 * (or given). Nothing depends on where spool itself is. Projects are made in temp folders; bundling
 * is skipped (`aws:cdk:bundling-stacks`), so these tests run no esbuild.
 */

import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  LAMBDA_BUNDLING,
  TaskQueue,
  TaskQueueHttpApi,
  TaskQueueHttpApiPropsError,
  type TaskQueueProps,
  TaskQueuePropsError,
} from 'spool-tasks/cdk';
import { afterAll, describe, expect, it } from 'vitest';
import { findLockFiles, functionCode } from '../../infra/function-code.js';
import { resolveTaskQueueProps } from '../../infra/task-queue-props.js';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });');
const HANDLER = 'export const handler = async () => ({ batchItemFailures: [] });\n';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A temp folder holding `files` (path → content); its real path (macOS's /tmp is a symlink). */
function project(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'spool-entry-')));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** The problems of `props` resolved against `cwd` (none: `[]`). */
function problemsOf(props: TaskQueueProps, cwd: string): readonly string[] {
  try {
    resolveTaskQueueProps(props, cwd);
    return [];
  } catch (error) {
    if (error instanceof TaskQueuePropsError) return error.problems;
    throw error;
  }
}

/** Run `fn` with `dir` as the working directory. */
function inDirectory<T>(dir: string, fn: () => T): T {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return fn();
  } finally {
    process.chdir(before);
  }
}

/** A stack whose functions are not bundled (the entry and lockfile are still checked). */
const unbundledStack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');

describe('GIVEN TaskQueue props without workerEntry or workerCode', () => {
  it('WHEN resolved THEN one problem says what is missing, what an entry is, and how to pass it', () => {
    const cwd = project({});
    const problems = problemsOf({}, cwd);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^neither workerEntry nor workerCode is set: the function needs its code\./);
    expect(problems[0]).toContain('a module exporting `handler`, made with `createSqsHandler` of spool-tasks/lambda');
    expect(problems[0]).toContain(`workerEntry: 'functions/worker.ts'`);
    expect(problems[0]).toContain(`resolves against the working directory, ${cwd}`);
    expect(problems[0]).toContain('Or pass workerCode');
  });

  it('WHEN the construct is made THEN it throws a TaskQueuePropsError with that message', () => {
    expect(() => new TaskQueue(unbundledStack(), 'Tasks', {})).toThrow(
      /Invalid TaskQueue props:\n {2}- neither workerEntry nor workerCode is set/,
    );
  });
});

describe('GIVEN a project with its lockfile at the root and the worker in src/tasks/', () => {
  const root = project({
    'package.json': '{"name":"orders","private":true}\n',
    'package-lock.json': '{"lockfileVersion":3}\n',
    'src/tasks/worker.ts': HANDLER,
  });

  it('WHEN the entry is relative THEN it resolves against the working directory, and the lockfile and project root are found walking up from it', () => {
    const { worker } = resolveTaskQueueProps({ workerEntry: 'src/tasks/worker.ts' }, root);
    expect(worker.entryPath).toBe(join(root, 'src/tasks/worker.ts'));
    expect(functionCode(worker)).toMatchObject({
      entry: join(root, 'src/tasks/worker.ts'),
      depsLockFilePath: join(root, 'package-lock.json'),
      projectRoot: root,
      handler: 'handler',
    });
  });

  it('WHEN the construct is made from the project folder with a relative entry THEN it is accepted', () => {
    const tasks = inDirectory(
      root,
      () => new TaskQueue(unbundledStack(), 'Tasks', { workerEntry: 'src/tasks/worker.ts' }),
    );
    expect(tasks.worker).toBeDefined();
  });

  it('WHEN the same relative entry is given from another folder THEN the problem names it, where it was looked for, and how to fix it', () => {
    const elsewhere = project({});
    const problems = problemsOf({ workerEntry: 'src/tasks/worker.ts' }, elsewhere);
    expect(problems).toEqual([
      `workerEntry is 'src/tasks/worker.ts' (${join(elsewhere, 'src/tasks/worker.ts')}, relative to the working directory ${elsewhere}): ` +
        `no such file. Pass the path of your entry file, absolute (e.g. join(import.meta.dirname, 'functions/worker.ts')) ` +
        `or relative to the folder you run cdk in (${elsewhere}).`,
    ]);
  });

  it('WHEN the entry is absolute THEN the working directory does not matter', () => {
    const elsewhere = project({});
    const { worker } = resolveTaskQueueProps({ workerEntry: join(root, 'src/tasks/worker.ts') }, elsewhere);
    expect(functionCode(worker)).toMatchObject({
      depsLockFilePath: join(root, 'package-lock.json'),
      projectRoot: root,
    });
  });

  it('WHEN the entry is not a JavaScript or TypeScript file THEN it is refused', () => {
    const problems = problemsOf({ workerEntry: 'package.json' }, root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^workerEntry is 'package\.json' .*JavaScript or TypeScript entries only/);
  });

  it('WHEN workerBundling is given THEN it applies over spool bundling, whose format, banner and import.meta.url stay', () => {
    const { worker } = resolveTaskQueueProps(
      {
        workerEntry: 'src/tasks/worker.ts',
        workerBundling: {
          esbuildArgs: { '--conditions': 'custom' },
          externalModules: ['sharp'],
          define: { 'process.env.STAGE': '"prod"', 'import.meta.url': '"nope"' },
        },
      },
      root,
    );
    expect(functionCode(worker).bundling).toEqual({
      ...LAMBDA_BUNDLING,
      esbuildArgs: { '--conditions': 'custom' },
      externalModules: ['better-sqlite3', 'sharp'],
      define: { 'process.env.STAGE': '"prod"', 'import.meta.url': '__spool_import_meta_url' },
    });
  });
});

describe('GIVEN a workspace whose lockfile is at its root, above the package of the worker', () => {
  const root = project({
    'pnpm-lock.yaml': 'lockfileVersion: 9.0\n',
    'packages/orders/package.json': '{"name":"orders"}\n',
    'packages/orders/src/worker.ts': HANDLER,
  });

  it('WHEN the entry is given THEN the nearest lockfile up is the workspace root, which is the project root', () => {
    const { worker } = resolveTaskQueueProps({ workerEntry: 'packages/orders/src/worker.ts' }, root);
    expect(functionCode(worker)).toMatchObject({ depsLockFilePath: join(root, 'pnpm-lock.yaml'), projectRoot: root });
  });

  it('WHEN projectRoot is the package THEN the lockfile is outside it, and the problem says so', () => {
    const problems = problemsOf({ workerEntry: 'packages/orders/src/worker.ts', projectRoot: 'packages/orders' }, root);
    expect(problems).toEqual([
      expect.stringMatching(/^the lockfile .*pnpm-lock\.yaml is outside projectRoot \(.*packages\/orders\)/),
    ]);
  });
});

describe('GIVEN lockfiles at two levels above the entry', () => {
  const root = project({
    'package-lock.json': '{}\n',
    'app/yarn.lock': '\n',
    'app/src/worker.ts': HANDLER,
  });

  it('WHEN the lockfile is looked for THEN the nearest wins', () => {
    expect(findLockFiles(join(root, 'app/src'))).toEqual([join(root, 'app/yarn.lock')]);
    const { worker } = resolveTaskQueueProps({ workerEntry: 'app/src/worker.ts' }, root);
    expect(functionCode(worker)).toMatchObject({
      depsLockFilePath: join(root, 'app/yarn.lock'),
      projectRoot: join(root, 'app'),
    });
  });

  it('WHEN depsLockFilePath and projectRoot are given THEN they are used instead', () => {
    const { worker } = resolveTaskQueueProps(
      { workerEntry: 'app/src/worker.ts', depsLockFilePath: 'package-lock.json', projectRoot: '.' },
      root,
    );
    expect(functionCode(worker)).toMatchObject({
      depsLockFilePath: join(root, 'package-lock.json'),
      projectRoot: root,
    });
  });

  it('WHEN depsLockFilePath names no file THEN the problem names it and the lockfiles allowed', () => {
    const problems = problemsOf({ workerEntry: 'app/src/worker.ts', depsLockFilePath: 'npm-shrinkwrap.json' }, root);
    expect(problems).toEqual([
      expect.stringMatching(
        /^depsLockFilePath is 'npm-shrinkwrap\.json' .*: no such file\. .*package-lock\.json, pnpm-lock\.yaml, yarn\.lock, bun\.lockb, bun\.lock/,
      ),
    ]);
  });
});

describe('GIVEN an entry with two lockfiles in its nearest folder', () => {
  it('WHEN resolved THEN the problem lists them and asks for depsLockFilePath', () => {
    const root = project({ 'package-lock.json': '{}\n', 'bun.lock': '{}\n', 'worker.ts': HANDLER });
    expect(problemsOf({ workerEntry: 'worker.ts' }, root)).toEqual([
      `the nearest folder above workerEntry with a lockfile, ${root}, holds 2: package-lock.json, bun.lock, so the ` +
        'package manager is ambiguous. Pass depsLockFilePath naming the one your project uses (or delete the others).',
    ]);
  });
});

describe('GIVEN an entry with no lockfile in any folder above it', () => {
  it('WHEN resolved THEN the problem says where it looked and how to fix it', () => {
    const root = project({ 'worker.ts': HANDLER });
    // GIVEN: nothing above the temp folder is a project.
    expect(findLockFiles(root)).toEqual([]);
    expect(problemsOf({ workerEntry: join(root, 'worker.ts') }, root)).toEqual([
      `no lockfile (package-lock.json, pnpm-lock.yaml, yarn.lock, bun.lockb, bun.lock) in ${root} or any folder above it: ` +
        "bundling workerEntry needs your project's lockfile, whose folder is the project root. Run your package manager's " +
        'install in your project to create one, or pass depsLockFilePath (and projectRoot, when the root is another folder).',
    ]);
  });
});

describe('GIVEN workerCode', () => {
  it('WHEN depsLockFilePath or projectRoot is given too THEN they are refused as meaningless', () => {
    expect(
      problemsOf({ workerCode: INLINE, depsLockFilePath: 'package-lock.json', projectRoot: '.' }, project({})),
    ).toEqual([
      'depsLockFilePath and projectRoot set with workerCode: they only apply when bundling workerEntry. Remove them, or pass workerEntry instead of workerCode.',
    ]);
  });

  it('WHEN resolved THEN the code is used as is, with the handler index.handler', () => {
    const { worker } = resolveTaskQueueProps({ workerCode: INLINE }, project({}));
    expect(functionCode(worker)).toEqual({ code: INLINE, handler: 'index.handler' });
  });
});

describe('GIVEN a TaskQueueHttpApi', () => {
  const root = project({ 'package-lock.json': '{}\n', 'src/http.ts': 'export const handler = async () => ({});\n' });
  const make = (props: { entry?: string; code?: lambda.Code }) => {
    const stack = unbundledStack();
    const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE });
    return new TaskQueueHttpApi(stack, 'Api', { taskQueue: tasks, ...props });
  };

  it('WHEN neither entry nor code is given THEN construction fails naming both', () => {
    let error: unknown;
    try {
      make({});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskQueueHttpApiPropsError);
    expect((error as TaskQueueHttpApiPropsError).problems).toEqual([
      expect.stringMatching(
        /^neither entry nor code is set: .*`handler`, made with `createHttpHandler` of spool-tasks\/lambda .*entry: 'functions\/http\.ts'/,
      ),
    ]);
  });

  it('WHEN the entry is relative THEN it resolves against the working directory', () => {
    expect(inDirectory(root, () => make({ entry: 'src/http.ts' })).function).toBeDefined();
    expect(() => make({ entry: 'src/http.ts' })).toThrow(/entry is 'src\/http\.ts' .*: no such file/);
  });
});
