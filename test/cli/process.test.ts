import { describe, expect, it } from 'vitest';
import { APP, run, type Spawned, spawnCli, useCliSandbox } from './helpers.js';

const sandbox = useCliSandbox();

function spool(args: readonly string[]): Spawned {
  const spawned = spawnCli(args, { SPOOL_DB: sandbox.env().db });
  sandbox.track(spawned);
  return spawned;
}

describe('bin/spool.mjs', () => {
  it('GIVEN --help WHEN run THEN it prints the commands and the exit codes, exit 0', async () => {
    const cli = spool(['--help']);
    expect(await cli.exited()).toBe(0);
    for (const command of ['dev', 'worker', 'enqueue', 'status', 'inspect', 'dlq']) {
      expect(cli.stdout()).toContain(`  ${command} `);
    }
    expect(cli.stdout()).toContain('Exit codes:');
    expect(cli.stdout()).toMatch(/2 {2}usage or validation error/);
  });

  it('GIVEN a command --help WHEN run THEN it shows its examples, exit 0', async () => {
    const cli = spool(['dlq', 'redrive', '--help']);
    expect(await cli.exited()).toBe(0);
    expect(cli.stdout()).toContain('$ spool dlq redrive --all');
  });

  it('GIVEN an unknown command WHEN run THEN it says so on stderr, exit 2', async () => {
    const cli = spool(['stauts']);
    expect(await cli.exited()).toBe(2);
    expect(cli.stderr()).toContain("spool: unknown command 'stauts'");
    expect(cli.stdout()).toBe('');
  });

  it('GIVEN spool dev WHEN a run is enqueued and SIGINT is sent THEN it logs the run and stops gracefully, exit 0', async () => {
    const dev = spool(['dev', '--app', APP, '--concurrency', '2']);
    await dev.waitFor('stdout', 'spool dev: running 3 tasks (fail, flaky, greet) on embedded SQLite');
    expect(dev.stdout()).toContain(`${sandbox.env().db} (queue spool), concurrency 2.`);

    const enqueued = await run(['enqueue', 'greet', '{"name":"Dev"}', '--app', APP]);
    expect(enqueued.stderr).toBe('');
    expect(enqueued.code).toBe(0);
    const id = enqueued.stdout.trim();
    await dev.waitFor('stderr', `attempt succeeded`);
    expect(dev.stderr()).toMatch(new RegExp(`debug +attempt succeeded .*taskId=${id} task=greet attempt=1`));

    dev.child.kill('SIGINT');
    expect(await dev.exited(5_000)).toBe(0);
    expect(dev.stderr()).toContain('spool: SIGINT received: stopping gracefully');
    expect(dev.stderr()).toContain('worker stopped');
  });
});

describe('spool dev and worker flags', () => {
  it('GIVEN --concurrency 0 WHEN dev THEN it reports the allowed range and exits 2 without starting', async () => {
    const out = await run(['dev', '--app', APP, '--concurrency', '0']);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(
      "spool: option '--concurrency <n>' argument '0' is invalid. allowed: an integer from 1 to 10000.",
    );
  });

  it('GIVEN no --app WHEN worker THEN it says how to pass the app and exits 2', async () => {
    const out = await run(['worker']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('spool: this command needs your app: pass --app <module> (or set SPOOL_APP)');
  });
});
