import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP, run, tempDatabase, withWorker } from './helpers.js';

let env: ReturnType<typeof tempDatabase>;
beforeEach(() => {
  env = tempDatabase();
});
afterEach(() => {
  delete process.env.SPOOL_TEST_SCHEDULES;
  env.cleanup();
});

describe('spool schedules', () => {
  it('GIVEN the app WHEN sync --dry-run, sync, and sync again THEN it shows the diff, creates, and then finds nothing to do', async () => {
    const dry = await run(['schedules', 'sync', '--app', APP, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      '+ create new-year: cron "0 3 1 1 *" Europe/Berlin → greet (overlap skip, missed runs latest)',
    );
    expect(dry.stdout).toContain('(dry run: nothing changed; 0 unchanged)');
    expect(JSON.parse((await run(['schedules', 'list', '--json'])).stdout)).toEqual([]);

    const first = await run(['schedules', 'sync', '--app', APP, '--json']);
    expect(JSON.parse(first.stdout)).toEqual({
      dryRun: false,
      create: ['new-year', 'yearly'],
      update: [],
      delete: [],
      unchanged: [],
    });
    const again = await run(['schedules', 'sync', '--app', APP]);
    expect(again.stdout).toContain('In step: 2 schedule(s), nothing to change.');

    process.env.SPOOL_TEST_SCHEDULES = 'v2';
    const changed = await run(['schedules', 'sync', '--app', APP]);
    expect(changed.stdout).toMatch(
      /~ update new-year:\n {4}was .* args \{"name":"World"\}\n {4}now .* args \{"name":"Everyone"\}/,
    );
    expect(changed.stdout).toContain('- delete yearly: cron "0 4 1 1 *" UTC → greet');
  });

  it('GIVEN synced schedules WHEN list, pause, resume and trigger THEN each reports and the trigger runs once', async () => {
    await run(['schedules', 'sync', '--app', APP]);
    const table = await run(['schedules', 'list']);
    expect(table.stdout).toMatch(/NAME\s+TRIGGER\s+TASK\s+STATE\s+LAST FIRE\s+NEXT FIRE/);
    expect(table.stdout).toMatch(
      /new-year\s+cron "0 3 1 1 \*" Europe\/Berlin\s+greet\s+enabled\s+-\s+20\d\d-01-01T02:00:00.000Z/,
    );

    expect((await run(['schedules', 'pause', 'new-year'])).stdout).toContain('Schedule new-year paused.');
    const listed = JSON.parse((await run(['schedules', 'list', '--json'])).stdout) as { name: string; state: string }[];
    expect(listed.find((s) => s.name === 'new-year')?.state).toBe('DISABLED');
    expect(JSON.parse((await run(['schedules', 'resume', 'new-year', '--json'])).stdout)).toEqual({
      name: 'new-year',
      state: 'ENABLED',
    });

    const fired = JSON.parse((await run(['schedules', 'trigger', 'new-year', '--json'])).stdout) as { taskId: string };
    expect(fired.taskId).toMatch(/^sched:new-year:manual:\d{4}-/);
    const result = await withWorker(async () => {
      const out = await run(['inspect', fired.taskId, '--json']);
      for (let i = 0; i < 100 && !out.stdout.includes('succeeded'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        Object.assign(out, await run(['inspect', fired.taskId, '--json']));
      }
      return JSON.parse(out.stdout) as { state: string; result: unknown };
    });
    expect(result).toMatchObject({ state: 'succeeded', result: 'Hello, World!' });
  });

  it('GIVEN mistakes THEN each exits with a clear message and code', async () => {
    await run(['schedules', 'sync', '--app', APP]);
    const noApp = await run(['schedules', 'sync']);
    expect(noApp.code).toBe(2);
    expect(noApp.stderr).toContain('sync needs the code: pass --app <module> (or set SPOOL_APP).');
    const unknown = await run(['schedules', 'pause', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no schedule named "nope" is deployed (see `spool schedules list`).');
    const trigger = await run(['schedules', 'trigger', 'nope']);
    expect(trigger.code).toBe(1);
  });
});
