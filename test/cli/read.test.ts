import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP, run, tempDatabase, withWorker } from './helpers.js';

let env: ReturnType<typeof tempDatabase>;
beforeEach(() => {
  env = tempDatabase();
});
afterEach(() => env.cleanup());

/** Run one greet, one fail and two flaky runs to their end; leave one greet queued. Returns their ids. */
async function someRuns() {
  const ids = await withWorker(async () => {
    const wait = async (task: string, json: string) =>
      JSON.parse((await run(['enqueue', task, json, '--app', APP, '--wait', '--json'])).stdout) as { id: string };
    return {
      greet: (await wait('greet', '{"name":"Ada"}')).id,
      fail: (await wait('fail', '{"why":"no such order"}')).id,
      flaky1: (await wait('flaky', '{"n":1}')).id,
      flaky2: (await wait('flaky', '{"n":2}')).id,
    };
  });
  await run(['enqueue', 'greet', '{"name":"Later"}', '--app', APP]);
  return ids;
}

describe('spool status', () => {
  it('GIVEN some runs WHEN status --json THEN it counts them and lists the failures newest first', async () => {
    const ids = await someRuns();
    const out = await run(['status', '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const status = JSON.parse(out.stdout);
    expect(status).toMatchObject({
      backend: `embedded SQLite ${env.db} (queue spool)`,
      queue: { name: 'spool', visible: 1, inFlight: 0 },
      deadLetters: { name: 'spool-dlq', count: 2 },
      records: {
        retrying: { count: 0, capped: false },
        failed: { count: 1, capped: false },
        dead: { count: 2, capped: false },
      },
    });
    const failures = status.recentFailures as { id: string; state: string; error: { name: string } }[];
    expect(failures.map((f) => f.id)).toEqual([ids.flaky2, ids.flaky1, ids.fail]);
    expect(failures[2]).toMatchObject({ task: 'fail', state: 'failed', error: { name: 'NonRetriableError' } });
  });

  it('GIVEN some runs WHEN status (table) with --app and --limit 1 THEN it shows counts and one failure', async () => {
    const ids = await someRuns();
    const out = await run(['status', '--app', APP, '--limit', '1']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/queued \(visible\)\s+1\n/);
    expect(out.stdout).toMatch(/dead letters\s+2\n/);
    expect(out.stdout).toMatch(/failed\s+1\n/);
    expect(out.stdout).toContain(`${ids.flaky2}  flaky  dead`);
    expect(out.stdout).not.toContain(ids.fail);
  });

  it('GIVEN an app module with a named async `spool` export WHEN status --app THEN it reads through it', async () => {
    await someRuns();
    const out = await run(['status', '--app', 'test/cli/fixtures/named.ts', '--json']);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ queue: { visible: 1 }, deadLetters: { count: 2 } });
  });

  it('GIVEN no database file and no --app WHEN status THEN it names the path and both options, exit 2', async () => {
    const missing = join(env.dir, 'missing.db');
    const out = await run(['status', '--db', missing]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`spool: no spool database at ${missing}.`);
    expect(out.stderr).toContain('--db <path>');
    expect(out.stderr).toContain('--app <module>');
  });
});

describe('spool inspect', () => {
  it('GIVEN a finished run WHEN inspect THEN it shows state, attempt, times and result', async () => {
    const ids = await someRuns();
    const out = await run(['inspect', ids.greet]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^id\s+[0-9a-f]{32}$/m);
    expect(out.stdout).toMatch(/^state\s+succeeded$/m);
    expect(out.stdout).toMatch(/^attempt\s+1$/m);
    expect(out.stdout).toMatch(/^finished\s+\d{4}-\d\d-\d\dT/m);
    expect(out.stdout).toMatch(/^result\s+"Hello, Ada!"$/m);
  });

  it('GIVEN a failed run WHEN inspect --json THEN it prints the record with ISO times and the error', async () => {
    const ids = await someRuns();
    const out = await run(['inspect', ids.fail, '--json']);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      id: ids.fail,
      task: 'fail',
      state: 'failed',
      attempt: 1,
      error: { name: 'NonRetriableError', message: 'no such order' },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
  });

  it('GIVEN a failed run whose error holds terminal escapes and a bidi override WHEN inspect (text and --json) THEN none reaches the terminal raw', async () => {
    const why = 'clear\u001b[2J\u001b]0;owned\u0007 \u009b31m \u202eevil\r!';
    const { id } = await withWorker(
      async () =>
        JSON.parse(
          (await run(['enqueue', 'fail', JSON.stringify({ why }), '--app', APP, '--wait', '--json'])).stdout,
        ) as {
          id: string;
        },
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for raw control characters.
    const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/;
    const text = await run(['inspect', id]);
    expect(text.stdout).not.toMatch(raw);
    expect(text.stdout).toContain('clear\\u{1b}[2J\\u{1b}]0;owned\\u{7} \\u{9b}31m \\u{202e}evil\\u{d}!');
    const json = await run(['inspect', id, '--json']);
    expect(json.stdout).not.toMatch(raw);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { message: why } });
  });

  it('GIVEN an id with no record WHEN inspect THEN it explains why and exits 1', async () => {
    await someRuns();
    const out = await run(['inspect', 'f'.repeat(32)]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `spool: no record for ${'f'.repeat(32)}: it is queued and not started yet, or it never existed, or its record expired (retention)\n`,
    );
  });
});

describe('spool dlq', () => {
  it('GIVEN dead runs WHEN dlq list THEN it shows each with its reason', async () => {
    const ids = await someRuns();
    const out = await run(['dlq', 'list']);
    expect(out.code).toBe(0);
    expect(out.stdout.split('\n')[0]).toMatch(/^MESSAGE ID\s+TASK ID\s+TASK\s+DEAD AT\s+REASON$/);
    expect(out.stdout).toContain(ids.flaky1);
    expect(out.stdout).toContain('Error: provider down (call 1) (attempt 1 of 1, no attempts left)');

    const json = JSON.parse((await run(['dlq', 'list', '--json'])).stdout) as { taskId: string; reason: string }[];
    expect(json.map((d) => d.taskId).sort()).toEqual([ids.flaky1, ids.flaky2].sort());
  });

  it('GIVEN neither --all nor ids WHEN dlq redrive THEN it says what to pass and exits 2', async () => {
    await someRuns();
    const out = await run(['dlq', 'redrive']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('spool: say which dead letters to redrive: --all for every one, or their task ids');
  });

  it('GIVEN dead letters WHEN dlq redrive --all THEN it moves them all and dlq list is empty', async () => {
    const ids = await someRuns();
    const out = await run(['dlq', 'redrive', '--all']);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe('Moved 2 dead letters back onto queue spool.\n');
    expect((await run(['dlq', 'list'])).stdout).toMatch(/^No dead letters/);
    const revived = JSON.parse((await run(['inspect', ids.flaky1, '--json'])).stdout);
    expect(revived).toMatchObject({ state: 'queued', attempt: 0 });
    expect(JSON.parse((await run(['status', '--json'])).stdout).queue.visible).toBe(3);
  });

  it('GIVEN one known and one unknown id WHEN dlq redrive --json THEN it moves one and exits 1', async () => {
    const ids = await someRuns();
    const out = await run(['dlq', 'redrive', ids.flaky1, 'e'.repeat(32), '--json']);
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual({ moved: 1, requested: 2 });
    expect(out.stderr).toContain('1 of the 2 task ids given had no dead letter');
    const left = JSON.parse((await run(['dlq', 'list', '--json'])).stdout) as { taskId: string }[];
    expect(left.map((d) => d.taskId)).toEqual([ids.flaky2]);
  });
});
