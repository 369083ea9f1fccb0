import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP, FACTORY_APP, ROOT, run, tempDatabase, withWorker } from './helpers.js';

let env: ReturnType<typeof tempDatabase>;
beforeEach(() => {
  env = tempDatabase();
});
afterEach(() => env.cleanup());

describe('spool enqueue', () => {
  it('GIVEN valid arguments WHEN enqueue THEN it prints the task id and exits 0', async () => {
    const out = await run(['enqueue', 'greet', '{"name":"Ada"}', '--app', APP]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^[0-9a-f]{32}\n$/);

    const inspected = await run(['inspect', out.stdout.trim()]);
    expect(inspected.code).toBe(1); // queued: no record yet
  });

  it('GIVEN --json WHEN enqueue THEN it prints id, task and existing', async () => {
    const out = await run(['enqueue', 'greet', '{"name":"Ada"}', '--app', APP, '--json']);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      task: 'greet',
      existing: false,
    });
  });

  it('GIVEN the same idempotency key twice WHEN enqueue THEN both print the same id', async () => {
    const a = await run(['enqueue', 'greet', '{"name":"A"}', '--app', APP, '--idempotency-key', 'k-1']);
    const b = await run(['enqueue', 'greet', '{"name":"B"}', '--app', APP, '--idempotency-key', 'k-1']);
    expect(a.stdout).toBe(b.stdout);
  });

  it('GIVEN a running worker WHEN enqueue --wait THEN it prints the id and the result', async () => {
    const out = await withWorker(() => run(['enqueue', 'greet', '{"name":"Ada"}', '--app', APP, '--wait']));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const [id, ...rest] = out.stdout.trim().split('\n');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(rest.join('\n'))).toBe('Hello, Ada!');
  });

  it('GIVEN a task that fails WHEN enqueue --wait --json THEN it prints the state and error and exits 1', async () => {
    const out = await withWorker(() =>
      run(['enqueue', 'fail', '{"why":"no such order"}', '--app', APP, '--wait', '--json']),
    );
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({
      task: 'fail',
      existing: false,
      state: 'failed',
      error: { name: 'NonRetriableError', message: 'no such order' },
    });
    expect(out.stderr).toMatch(/^spool: Run [0-9a-f]{32} of task 'fail' ended failed: NonRetriableError/);
  });

  it('GIVEN no worker WHEN enqueue --wait --timeout-ms 200 THEN it says it timed out with CLI advice and exits 1', async () => {
    const out = await run(['enqueue', 'greet', '{"name":"Ada"}', '--app', APP, '--wait', '--timeout-ms', '200']);
    expect(out.code).toBe(1);
    const id = out.stdout.trim();
    expect(out.stderr).toBe(
      `spool: Run ${id} of task 'greet' did not finish within 200 ms (state: queued). Is a worker running on this ` +
        `backend (spool dev --app ${APP})? Wait longer with --timeout-ms <ms>, or follow the run with ` +
        `\`spool inspect ${id} --app ${APP}\`.\n`,
    );
    expect(out.stderr).not.toContain('result({');
  });

  it('GIVEN no worker WHEN enqueue --wait --json with --db THEN it prints the queued state, and the advice keeps --db', async () => {
    const db = join(env.dir, 'other.db');
    const out = await run([
      'enqueue',
      'greet',
      '{"name":"Ada"}',
      '--app',
      FACTORY_APP,
      '--db',
      db,
      '--wait',
      '--timeout-ms',
      '100',
      '--json',
    ]);
    expect(out.code).toBe(1);
    const printed = JSON.parse(out.stdout) as { id: string; state: string };
    expect(printed.state).toBe('queued');
    expect(out.stderr).toContain(`\`spool inspect ${printed.id} --app ${FACTORY_APP} --db ${db}\``);
  });

  it('GIVEN bad JSON WHEN enqueue THEN it points at the position and exits 2', async () => {
    const out = await run(['enqueue', 'greet', '{"name":}', '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`spool: arguments of 'greet': not valid JSON: unexpected "}" at position 8`);
    expect(out.stderr).toContain('  {"name":}\n          ^\n');
  });

  it('GIVEN an unknown task WHEN enqueue THEN it lists the known tasks and exits 2', async () => {
    const out = await run(['enqueue', 'nope', '{}', '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("spool: unknown task 'nope': the app registers fail, flaky, greet.");
  });

  it('GIVEN arguments the schema rejects WHEN enqueue THEN it prints the validation error and exits 2', async () => {
    const out = await run(['enqueue', 'greet', '{"name":42}', '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^spool: Invalid arguments for task 'greet' at enqueue: name: .*Nothing was enqueued/);
  });

  it('GIVEN a bad flag value WHEN enqueue THEN commander reports it and exits 2', async () => {
    const out = await run(['enqueue', 'greet', '{}', '--app', APP, '--wait', '--timeout-ms', 'soon']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(
      "spool: option '--timeout-ms <ms>' argument 'soon' is invalid. allowed: an integer ≥ 1.",
    );
  });
});

describe('app modules', () => {
  it('GIVEN --app naming a missing file WHEN enqueue THEN it names the resolved path and exits 2', async () => {
    const out = await run(['enqueue', 'greet', '{}', '--app', 'src/nowhere.ts']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`spool: app module not found: ${join(ROOT, 'src/nowhere.ts')}`);
    expect(out.stderr).toContain('--app');
  });

  it('GIVEN no --app and no SPOOL_APP WHEN enqueue THEN it says how to pass the app and exits 2', async () => {
    const out = await run(['enqueue', 'greet', '{}']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('spool: this command needs your app: pass --app <module> (or set SPOOL_APP)');
  });

  it('GIVEN a module without a spool export WHEN enqueue THEN it lists the exports found and what is expected', async () => {
    const out = await run(['enqueue', 'greet', '{}', '--app', 'test/cli/fixtures/no-export.ts']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('has no spool export: found answer (number), helper (a function)');
    expect(out.stderr).toContain('export default createSpool({...}) or export default () => createSpool({...})');
  });

  it('GIVEN SPOOL_APP in the environment WHEN enqueue without --app THEN it uses it', async () => {
    process.env.SPOOL_APP = APP;
    const out = await run(['enqueue', 'greet', '{"name":"Env"}']);
    expect(out.code).toBe(0);
  });
});
