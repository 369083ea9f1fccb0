/**
 * The duplicate-execution bugs that Celery on Redis, BullMQ and Asynq users report, each as a test
 * on the AWS backend (SQS FIFO + DynamoDB on the local endpoint).
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpool, defineTask, type Spool, silentLogger, type Worker } from 'spool-tasks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { run as runCli } from '../cli/helpers.js';
import { openLedger } from '../stress/fixtures/effects.js';
import { slowEffectTask } from './fixtures/slow-effect.js';
import { awsEnv, freshAwsBackend } from './resources.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-pain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function app(tasks: Parameters<typeof createSpool>[0]['tasks']) {
  const fresh = await freshAwsBackend();
  const spool = createSpool({ backend: fresh.backend, tasks, logger: silentLogger });
  const workers: Worker[] = [];
  cleanups.push(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await spool.close();
  });
  const startWorker = async (options: Parameters<Spool['worker']>[0] = {}) => {
    const w = spool.worker({ waitTimeSeconds: 1, ...options });
    workers.push(w);
    await w.start();
    return w;
  };
  return { spool, fresh, startWorker };
}

const settle = async (spool: Spool, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await spool.backend.transport.tasks.stats();
    if (s.visible + s.inFlight === 0) return;
    if (Date.now() > deadline) throw new Error(`queue not empty: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe('Celery pain points on SQS FIFO + DynamoDB', () => {
  it('(i) GIVEN a visibility timeout shorter than the task and two pollers WHEN SQS redelivers the message THEN the task runs once', async () => {
    let runs = 0;
    const long = defineTask({
      name: 'long',
      schema: z.object({}),
      leaseSeconds: 6, // first heartbeat at 2 s: the 1 s visibility runs out before it
      handler: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 4000));
      },
    });
    const { spool, startWorker } = await app([long]);
    const a = await startWorker({ visibilityTimeoutSeconds: 1, workerId: 'poller-a' });
    const b = await startWorker({ visibilityTimeoutSeconds: 1, workerId: 'poller-b' });
    const h = await spool.enqueue(long, {});
    await h.result({ timeoutMs: 20_000 });
    await settle(spool);
    expect(runs).toBe(1);
    expect((await h.info())?.attempt).toBe(1);
    // The second delivery really happened, and was turned away by the lease.
    const leased = (a.counts.get('leased elsewhere') ?? 0) + (b.counts.get('leased elsewhere') ?? 0);
    expect(leased).toBeGreaterThanOrEqual(1);
  });

  it('(ii) GIVEN a worker process killed (SIGKILL) mid-task THEN the task runs again after its lease expires, and its effect happens once', async () => {
    const ledgerPath = join(dir, 'ledger-kill.db');
    const { spool, fresh, startWorker } = await app([slowEffectTask(ledgerPath)]);
    const task = spool.tasks.get('slow.effect');
    if (task === undefined) throw new Error('task missing');
    const child = spawn(
      process.execPath,
      [
        '--conditions=spool-source',
        '--import',
        'tsx',
        join(import.meta.dirname, 'fixtures', 'aws-worker.ts'),
        ledgerPath,
      ],
      {
        env: { ...process.env, ...awsEnv(fresh) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    cleanups.push(async () => void child.kill('SIGKILL'));
    const started = new Promise<string>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const line = chunk.toString().match(/started (\S+) 1/);
        if (line?.[1] !== undefined) resolve(line[1]);
      });
    });
    const h = await spool.enqueue(task, { order: 'o-1' });
    expect(await started).toBe(h.id);
    child.kill('SIGKILL'); // mid-task: before its effect
    await new Promise((r) => child.once('exit', r));
    await startWorker();
    await expect(h.result({ timeoutMs: 20_000 })).resolves.toBe(2);
    const ledger = openLedger(ledgerPath);
    expect(ledger.prepare('SELECT task_id, n FROM effects').all()).toEqual([{ task_id: h.id, n: 1 }]);
    ledger.close();
  });

  it('(iii) GIVEN the same task enqueued twice inside the 5-minute window and once more outside it THEN it runs once', async () => {
    let runs = 0;
    const charge = defineTask({ name: 'charge', schema: z.object({ order: z.string() }), handler: () => void runs++ });
    const { spool, startWorker } = await app([charge]);
    const first = await spool.enqueue(charge, { order: 'o-7' });
    const second = await spool.enqueue(charge, { order: 'o-7' });
    expect(second.id).toBe(first.id);
    expect((await spool.backend.transport.tasks.stats()).visible).toBe(1); // SQS dropped the copy
    await startWorker();
    await first.result({ timeoutMs: 10_000 });
    // Outside the window SQS accepts the copy (simulated with another deduplication id): the store stops it.
    const body = JSON.stringify({ spool: 1, id: first.id, task: 'charge', args: { order: 'o-7' } });
    await spool.backend.transport.tasks.send([{ body, deduplicationId: `${first.id}-later`, groupId: first.id }]);
    await settle(spool);
    expect(runs).toBe(1);
  });

  it('(iv) GIVEN a poison message THEN it lands in the dead-letter queue with a reason that spool dlq list and spool inspect show', async () => {
    const { spool, fresh, startWorker } = await app([]);
    await spool.backend.transport.tasks.send([
      { body: '{"spool":1,"id":"poison-1","task":"no.such.task","args":{}}', deduplicationId: 'p1', groupId: 'p1' },
    ]);
    await startWorker();
    await settle(spool);
    const env = awsEnv(fresh);
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const list = await run(['dlq', 'list', '--backend', 'aws', '--json']);
      expect(list.code).toBe(0);
      expect(list.out).toMatch(/unknown task 'no\.such\.task'/);
      const inspect = await run(['inspect', 'poison-1', '--backend', 'aws']);
      expect(inspect.code).toBe(0);
      expect(inspect.out).toMatch(/dead/);
      expect(inspect.out).toMatch(/UnknownTask: unknown task 'no\.such\.task'/);
    } finally {
      process.env = saved;
    }
  });
});

async function run(argv: string[]) {
  const outcome = await runCli(argv);
  return { code: outcome.code, out: outcome.stdout + outcome.stderr };
}
