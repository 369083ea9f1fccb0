import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpool, silentLogger } from 'spool-tasks';
import { afterAll, describe, expect, it } from 'vitest';
import { awsEnv, freshAwsBackend } from '../aws/resources.js';
import { blockingTask, openBlockingLedger, overlaps } from './fixtures/blocking.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-blocking-aws-'));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Start a worker process of `fixtures/blocking-worker.ts` on the AWS backend; resolves once it polls. */
async function startWorker(env: Record<string, string>, ledgerPath: string): Promise<ChildProcess> {
  const script = join(import.meta.dirname, 'fixtures', 'blocking-worker.ts');
  const child = spawn(
    process.execPath,
    ['--conditions=spool-source', '--import', 'tsx', script, 'aws', ledgerPath, 'on'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
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

describe('handlers that block the event loop longer than the lease, on AWS (SQS FIFO + DynamoDB)', () => {
  it('GIVEN CPU-bound runs that busy-loop 2.5–3.5 s with a 2 s lease WHEN 2 worker processes run them THEN no run is attempted twice at once, every effect happens once and all succeed', async () => {
    const fresh = await freshAwsBackend();
    const ledgerPath = join(dir, 'ledger.db');
    const ledger = openBlockingLedger(ledgerPath);
    const task = blockingTask(ledger);
    const spool = createSpool({ backend: fresh.backend, tasks: [task], logger: silentLogger });
    cleanups.push(() => spool.close());
    // GIVEN: 15 runs that wait 0.2–1.4 s, then every fifth busy-loops 2.5–3.5 s; the rest end at once.
    const RUNS = 15;
    const args = Array.from({ length: RUNS }, (_, i) => ({
      i,
      waitMs: 200 + ((i * 211) % 1200),
      spinMs: i % 5 === 0 ? 2500 + ((i * 397) % 1000) : 0,
    }));

    // WHEN: two worker processes (the lease keeper on: openAwsBackend() from the environment is portable).
    const env = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ...awsEnv(fresh) };
    const workers = await Promise.all([startWorker(env, ledgerPath), startWorker(env, ledgerPath)]);
    const handles = await spool.enqueueMany(task, args);
    const deadline = Date.now() + 50_000;
    for (;;) {
      const states = await Promise.all(handles.map(async (h) => (await h.info())?.state));
      if (states.every((s) => s === 'succeeded')) break;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(states)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const c of workers) c.kill('SIGTERM');
    const codes = await Promise.all(workers.map(async (c) => (c.exitCode ?? (await once(c, 'exit'))[0]) as number));

    // THEN: no overlapping attempts, one effect per run.
    expect(codes).toEqual([0, 0]);
    expect(overlaps(ledger)).toEqual([]);
    const effects = ledger.prepare('SELECT task_id, n FROM effects').all() as { task_id: string; n: number }[];
    expect(effects).toHaveLength(RUNS);
    expect(effects.filter((e) => e.n !== 1)).toEqual([]);
    ledger.close();
  }, 90_000);
});
