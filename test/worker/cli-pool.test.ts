import { describe, expect, it } from 'vitest';
import { APP, run, type Spawned, spawnCli, useCliSandbox } from '../cli/helpers.js';

const sandbox = useCliSandbox();

function spool(args: readonly string[]): Spawned {
  const spawned = spawnCli(args, { SPOOL_DB: sandbox.env().db, SPOOL_LOG_LEVEL: 'info' });
  sandbox.track(spawned);
  return spawned;
}

describe('spool worker --pool', () => {
  it.each(['threads', 'processes'] as const)(
    'GIVEN the TypeScript fixture app WHEN `spool worker --pool %s` runs a task THEN a pool member runs it and the worker stops cleanly',
    async (kind) => {
      const worker = spool(['worker', '--app', APP, '--pool', kind, '--pool-size', '1', '--concurrency', '2']);
      await worker.waitFor('stderr', 'spool worker running', 20_000);
      expect(worker.stderr()).toContain(`"handlers":"${kind}"`);
      expect(worker.stderr()).toContain('"leases":"main thread, lease keeper standing by"');

      const enqueued = await run(['enqueue', 'greet', '{"name":"Pool"}', '--app', APP, '--wait']);
      expect(enqueued.stderr).toBe('');
      expect(enqueued.stdout).toContain('Hello, Pool!');

      worker.child.kill('SIGTERM');
      expect(await worker.exited(10_000)).toBe(0);
    },
    40_000,
  );

  it('GIVEN --pool-size without a pool WHEN worker THEN it says what is missing and exits 2', async () => {
    const out = await run(['worker', '--app', APP, '--pool-size', '2']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('--pool-size needs a pool');
  });

  it('GIVEN --pool with an unknown kind WHEN worker THEN commander reports the allowed kinds and exits 2', async () => {
    const out = await run(['worker', '--app', APP, '--pool', 'forks']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('allowed: inline, threads, processes.');
  });
});
