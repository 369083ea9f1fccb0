/**
 * `spool provision` end to end, as a user of the package runs it: provision an app's resources on
 * the test endpoint, run `spool worker --backend aws` on a user-style app module in a temporary
 * directory (it imports the built package by file URL), enqueue with `spool enqueue --backend aws
 * --wait`, stop the worker with SIGINT, and delete the resources.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testPrefix } from './resources.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'spool.mjs');
const DIST_INDEX = join(ROOT, 'dist', 'esm', 'lib', 'index.js');

/** The environment of a user's shell: nothing of spool's or of an endpoint set. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('SPOOL_') || key.startsWith('AWS_')) delete env[key];
  }
  return env;
}

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spool(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Outcome> {
  const child = spawn(process.execPath, [BIN, ...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

/** A user's app module: imports spool, default export `({ backend }) => createSpool({ backend, tasks })`. */
function writeUserApp(dir: string): string {
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'user-app', type: 'module' })}\n`);
  const app = join(dir, 'app.mjs');
  writeFileSync(
    app,
    `import { writeFileSync } from 'node:fs';
import { createSpool, defineTask } from ${JSON.stringify(pathToFileURL(DIST_INDEX).href)};

// A Standard Schema without a schema library: { name: string }.
const person = {
  '~standard': {
    version: 1,
    vendor: 'user-app',
    validate: (value) =>
      typeof value?.name === 'string' ? { value } : { issues: [{ message: 'name must be a string' }] },
  },
};

export const greet = defineTask({
  name: 'greet',
  schema: person,
  async handler({ name }, ctx) {
    writeFileSync(new URL('./effect-' + ctx.taskId.replace(/[^A-Za-z0-9-]/g, '_') + '.txt', import.meta.url), name);
    return { greeting: 'hello ' + name };
  },
});

export default ({ backend }) => createSpool({ backend, tasks: [greet] });
`,
  );
  return app;
}

describe('spool provision, then spool worker and spool enqueue on it', () => {
  const endpoint = inject('awsEndpoint');
  const dir = mkdtempSync(join(tmpdir(), 'spool-user-'));
  const prefix = testPrefix('spool-prov');
  const children: ChildProcess[] = [];
  const where = endpoint === '' ? ['--region', inject('awsRegion')] : ['--endpoint', endpoint];

  beforeAll(() => {
    if (!existsSync(DIST_INDEX)) throw new Error(`${DIST_INDEX} is missing: run \`npm run build\` first`);
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    // Whatever the test left behind.
    await spool(['provision', '--prefix', prefix, '--delete', ...where], { cwd: dir, env: cleanEnv() });
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN a user app in an empty project WHEN provisioned, worked and enqueued THEN the run succeeds, the worker stops on SIGINT, and --delete removes everything', async () => {
    const app = writeUserApp(dir);
    const base = cleanEnv();

    // WHEN spool provision runs, twice (idempotent)
    const first = await spool(['provision', '--prefix', prefix, ...where, '--json', '--dotenv', '.env.spool'], {
      cwd: dir,
      env: base,
    });
    expect(first.code, first.stderr).toBe(0);
    const made = JSON.parse(first.stdout) as { environment: Record<string, string> };
    expect(Object.keys(made.environment)).toEqual(
      expect.arrayContaining([
        'SPOOL_QUEUE_URL',
        'SPOOL_DLQ_URL',
        'SPOOL_TABLE',
        'SPOOL_BUCKET',
        'SPOOL_SCHEDULE_GROUP',
        'SPOOL_SCHEDULER_ROLE_ARN',
        'AWS_REGION',
      ]),
    );
    expect(made.environment.SPOOL_BUCKET).toBe(`${prefix}-blobs`);
    expect(made.environment.SPOOL_QUEUE_URL).toMatch(new RegExp(`/${prefix}\\.fifo$`));
    expect(made.environment.SPOOL_TABLE).toBe(`${prefix}-tasks`);
    const again = await spool(['provision', '--prefix', prefix, ...where], { cwd: dir, env: base });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`export SPOOL_QUEUE_URL=${made.environment.SPOOL_QUEUE_URL}\n`);
    expect(again.stderr).toMatch(/ready on .*\n(.|\n)*schedule group\s+/);

    // THEN the dotenv file holds what openAwsBackend() reads
    const env = parseEnv(readFileSync(join(dir, '.env.spool'), 'utf8'));
    expect(env).toEqual(made.environment);

    // WHEN a worker runs the user's app on those resources, and a run is enqueued
    const worker = spawn(process.execPath, [BIN, 'worker', '--backend', 'aws', '--app', app, '--concurrency', '2'], {
      cwd: dir,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(worker);
    let logs = '';
    worker.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const enqueued = await spool(
      ['enqueue', 'greet', '{"name":"Ada"}', '--app', 'app.mjs', '--backend', 'aws', '--wait', '--json'],
      { cwd: dir, env: { ...base, ...env } },
    );

    // THEN the run succeeds with the task's result, and its effect happened
    expect(enqueued.code, `${enqueued.stderr}\n${logs}`).toBe(0);
    expect(enqueued.stdout).toContain('"greeting": "hello Ada"');
    const id = (JSON.parse(enqueued.stdout) as { id: string }).id;
    expect(readFileSync(join(dir, `effect-${id.replace(/[^A-Za-z0-9-]/g, '_')}.txt`), 'utf8')).toBe('Ada');

    // WHEN the worker gets SIGINT THEN it stops gracefully
    worker.kill('SIGINT');
    const [code] = await once(worker, 'exit');
    expect(code, logs).toBe(0);
    expect(logs).toMatch(new RegExp(`AWS SQS ${prefix}\\.fifo \\+ DynamoDB ${prefix}-tasks`));
    expect(logs).toMatch(/worker stopped/);

    // WHEN the resources are deleted, twice THEN the first deletes each, the second finds none
    const deleted = await spool(['provision', '--prefix', prefix, '--delete', ...where, '--json'], {
      cwd: dir,
      env: base,
    });
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout).deleted).toEqual({
      queue: { name: `${prefix}.fifo`, outcome: 'deleted' },
      deadLetterQueue: { name: `${prefix}-dlq.fifo`, outcome: 'deleted' },
      table: { name: `${prefix}-tasks`, outcome: 'deleted' },
      scheduleGroup: { name: prefix, outcome: 'deleted' },
      bucket: { name: `${prefix}-blobs`, outcome: 'deleted' },
    });
    const gone = await spool(['provision', '--prefix', prefix, '--delete', ...where, '--json'], {
      cwd: dir,
      env: base,
    });
    expect(gone.code, gone.stderr).toBe(0);
    expect(Object.values(JSON.parse(gone.stdout).deleted).map((r) => (r as { outcome: string }).outcome)).toEqual([
      'absent',
      'absent',
      'absent',
      'absent',
      'absent',
    ]);
  }, 90_000);
});

describe('spool provision, refusing what it cannot do', () => {
  it('GIVEN no --prefix WHEN spool provision runs THEN it exits 2 and says what to pass', async () => {
    const out = await spool(['provision', '--endpoint', 'http://127.0.0.1:9'], { cwd: tmpdir(), env: cleanEnv() });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/needs --prefix <name>.*--prefix myapp-dev/);
  });

  it('GIVEN a prefix with a space WHEN spool provision runs THEN it exits 2 naming the value and what is allowed', async () => {
    const out = await spool(['provision', '--prefix', 'my app', '--endpoint', 'http://127.0.0.1:9'], {
      cwd: tmpdir(),
      env: cleanEnv(),
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/prefix "my app" has characters other than letters, digits, '-' and '_'/);
  });

  it('GIVEN an endpoint where nothing listens WHEN spool provision runs THEN it exits 3 saying it cannot reach it', async () => {
    const out = await spool(['provision', '--prefix', 'nobody-home', '--endpoint', 'http://127.0.0.1:9'], {
      cwd: tmpdir(),
      env: cleanEnv(),
    });
    expect(out.code).toBe(3);
    expect(out.stderr).toMatch(/cannot reach SQS at http:\/\/127\.0\.0\.1:9.*spool local start/);
  });
});
