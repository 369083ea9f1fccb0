import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpool, silentLogger } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll, describe, expect, it } from 'vitest';
import { blockingTask, openBlockingLedger, overlaps } from './fixtures/blocking.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-blocking-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Start a worker process of `fixtures/blocking-worker.ts`; resolves once it is polling. */
async function startWorker(dbPath: string, ledgerPath: string, keeper: 'on' | 'off'): Promise<ChildProcess> {
  const script = join(import.meta.dirname, 'fixtures', 'blocking-worker.ts');
  const child = spawn(
    process.execPath,
    ['--conditions=spool-source', '--import', 'tsx', script, dbPath, ledgerPath, keeper],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  return child;
}

describe('handlers that block the event loop longer than the lease', () => {
  it('GIVEN CPU-bound runs that busy-loop 2.5–4 s with a 2 s lease WHEN 2 worker processes run them THEN no run is attempted twice at once, every effect happens once and all succeed', async () => {
    const dbPath = join(dir, 'spool.db');
    const ledgerPath = join(dir, 'ledger.db');
    const ledger = openBlockingLedger(ledgerPath);
    const task = blockingTask(ledger);
    const spool = createSpool({ backend: openEmbeddedBackend({ path: dbPath }), tasks: [task], logger: silentLogger });
    // GIVEN: 40 runs that wait 0.2–1.4 s (the loop free), then every fifth busy-loops 2.5–4 s (longer
    // than its 2 s lease, stalling the other runs of its process), the rest end at once.
    const RUNS = 40;
    const args = Array.from({ length: RUNS }, (_, i) => ({
      i,
      waitMs: 200 + ((i * 211) % 1200),
      spinMs: i % 5 === 0 ? 2500 + ((i * 397) % 1500) : 0,
    }));

    // WHEN: two worker processes (5 slots each, the lease keeper on) are polling when the runs arrive.
    const workers = await Promise.all([startWorker(dbPath, ledgerPath, 'on'), startWorker(dbPath, ledgerPath, 'on')]);
    const handles = await spool.enqueueMany(task, args);
    const count = ledger.prepare('SELECT COUNT(*) AS c FROM effects');
    const deadline = Date.now() + 50_000;
    for (;;) {
      const stats = await spool.backend.transport.tasks.stats();
      const done = (count.get() as { c: number }).c;
      if (done === RUNS && stats.visible + stats.inFlight === 0) break;
      if (Date.now() > deadline) throw new Error(`timed out: ${done} effects, queue ${JSON.stringify(stats)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const c of workers) c.kill('SIGTERM');
    const codes = await Promise.all(workers.map(async (c) => (c.exitCode ?? (await once(c, 'exit'))[0]) as number));

    // THEN: no two attempts of one run overlapped, each effect happened once, every run succeeded.
    expect(codes).toEqual([0, 0]);
    expect(overlaps(ledger)).toEqual([]);
    const effects = ledger.prepare('SELECT task_id, n FROM effects').all() as { task_id: string; n: number }[];
    expect(effects).toHaveLength(RUNS);
    expect(effects.filter((e) => e.n !== 1)).toEqual([]);
    const states = await Promise.all(handles.map(async (h) => (await h.info())?.state));
    expect(states.filter((s) => s !== 'succeeded')).toEqual([]);
    // Both processes ran some of the long loops (so both were blocked while the other could claim).
    const pids = ledger.prepare('SELECT DISTINCT pid FROM attempts').all();
    expect(pids).toHaveLength(2);
    ledger.close();
    await spool.close();
  }, 90_000);
});
