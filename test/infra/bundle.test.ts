/**
 * The worker bundle stays lean: a worker entry as an app that installed `spool-tasks` writes it
 * (importing only `spool-tasks`, `spool-tasks/aws` and `spool-tasks/lambda`), bundled by esbuild
 * with the constructs' bundling options (`LAMBDA_BUNDLING`), holds no SQLite code: no
 * `better-sqlite3` require and no module of `lib/embedded/`. The entry lives in a temp project whose
 * `node_modules/spool-tasks` links to this repo; the bundle resolves the package to its sources (the
 * `spool-source` condition), whose module graph is the one dist/ is compiled from, file for file.
 */

import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLING, TASK_QUEUE_DEFAULTS } from 'spool-tasks/cdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptionsOf, esbuildTarget } from '../../infra/esbuild-options.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The esbuild options `NodejsFunction` derives from `bundling` (its CLI flags, as the build API's). */

/** A worker as an app on spool writes it: its own task, the AWS backend, the SQS handler. */
const USER_WORKER = `
import { createSpool, defineTask } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { createSqsHandler } from 'spool-tasks/lambda';

/** A Standard Schema without a schema library. */
const mail = {
  '~standard': {
    version: 1,
    vendor: 'app',
    validate: (value: unknown) => ({ value: value as { to: string } }),
  },
} as const;

const sendMail = defineTask({
  name: 'mail.send',
  schema: mail,
  async handler({ to }) {
    return { sentTo: to };
  },
});

export const handler = createSqsHandler(() => createSpool({ backend: openAwsBackend(), tasks: [sendMail] }));
`;

interface Bundled {
  readonly code: string;
  /** The bundle's inputs, relative to this repo. */
  readonly inputs: string[];
  readonly bytes: number;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Bundle `entry` with the constructs' options into `outdir`/index.js. */
async function bundle(entry: string, outdir: string): Promise<Bundled> {
  const result = await build({
    ...esbuildOptionsOf(LAMBDA_BUNDLING, esbuildTarget(TASK_QUEUE_DEFAULTS.runtime.name)),
    entryPoints: [entry],
    outfile: join(outdir, 'index.js'),
    conditions: ['spool-source'],
    metafile: true,
    logLevel: 'silent',
  });
  const metafile = result.metafile as Metafile;
  const code = readFileSync(join(outdir, 'index.js'), 'utf8');
  return {
    code,
    inputs: Object.keys(metafile.inputs).map((input) => relative(REPO, realpathSync(input))),
    bytes: Buffer.byteLength(code),
  };
}

const REQUIRE_SQLITE = /require\(\s*["'`]better-sqlite3["'`]\s*\)/;

describe('GIVEN a worker entry that imports only spool-tasks, spool-tasks/aws and spool-tasks/lambda', () => {
  let out: string;
  let bundled: Bundled;

  beforeAll(async () => {
    const project = realpathSync(mkdtempSync(join(tmpdir(), 'spool-user-')));
    out = realpathSync(mkdtempSync(join(tmpdir(), 'spool-user-bundle-')));
    dirs.push(project, out);
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(REPO, join(project, 'node_modules', 'spool-tasks'), 'dir');
    writeFileSync(join(project, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
    writeFileSync(join(project, 'worker.ts'), USER_WORKER);
    bundled = await bundle(join(project, 'worker.ts'), out);
  }, 60_000);

  it('WHEN bundled with LAMBDA_BUNDLING THEN no module of lib/embedded/ and nothing of better-sqlite3 is in it', () => {
    expect(bundled.inputs.some((input) => input.startsWith('lib/aws/'))).toBe(true); // GIVEN: spool's sources
    expect(bundled.inputs.filter((input) => input.startsWith('lib/embedded/'))).toEqual([]);
    expect(bundled.inputs.filter((input) => input.includes('better-sqlite3'))).toEqual([]);
    expect(bundled.code).not.toMatch(REQUIRE_SQLITE);
    expect(bundled.code).not.toContain('better-sqlite3');
  });

  it('THEN it is one CommonJS file with the AWS SDK inside that loads with no node_modules and exports handler', () => {
    expect(bundled.inputs.some((input) => input.includes('node_modules/@aws-sdk/client-sqs/'))).toBe(true);
    expect(bundled.code.startsWith('"use strict";')).toBe(true);
    const worker = createRequire(join(out, 'index.js'))('./index.js') as { handler?: unknown };
    expect(typeof worker.handler).toBe('function');
  });
});

describe('GIVEN spool-tasks/cdk', () => {
  it('WHEN its module graph is walked THEN it imports no cdk-nag (its acknowledgements use only aws-cdk-lib)', async () => {
    const result = await build({
      entryPoints: [join(REPO, 'infra', 'index.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      conditions: ['spool-source'],
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const inputs = Object.values(result.metafile.inputs);
    const packages = new Set(inputs.flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path)));
    expect([...packages].filter((p) => p.startsWith('cdk-nag'))).toEqual([]);
    expect(packages).toContain('aws-cdk-lib'); // GIVEN: the graph was walked
    expect(Object.keys(result.metafile.inputs)).not.toContain('infra/nag.ts');
  });
});

describe('GIVEN the example worker (functions/worker.ts)', () => {
  it('WHEN bundled with LAMBDA_BUNDLING THEN it requires no better-sqlite3', async () => {
    const out = realpathSync(mkdtempSync(join(tmpdir(), 'spool-example-bundle-')));
    dirs.push(out);
    const bundled = await bundle(join(REPO, 'functions', 'worker.ts'), out);
    expect(bundled.code).not.toMatch(REQUIRE_SQLITE);
    expect(bundled.inputs.filter((input) => input.includes('node_modules/better-sqlite3'))).toEqual([]);
  }, 60_000);
});
