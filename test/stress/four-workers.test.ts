import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpool, silentLogger } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll, describe, expect, it } from 'vitest';
import { effectTask, openLedger } from './fixtures/effects.js';

const TASKS = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'spool-stress-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('4 worker processes on one embedded store', () => {
  it('GIVEN 10,000 tasks each enqueued twice and delivered twice, 10% failing once WHEN 4 processes work THEN every effect happened exactly once and none was lost', async () => {
    const dbPath = join(dir, 'spool.db');
    const ledgerPath = join(dir, 'ledger.db');
    const ledger = openLedger(ledgerPath);
    const task = effectTask(ledger);
    const spool = createSpool({ backend: openEmbeddedBackend({ path: dbPath }), tasks: [task], logger: silentLogger });
    const args = Array.from({ length: TASKS }, (_, i) => ({ i }));

    // GIVEN: every task enqueued twice (the second copy is dropped by the queue's deduplication)…
    const handles = await spool.enqueueMany(task, args);
    const again = await spool.enqueueMany(task, args);
    expect(again.map((h) => h.id)).toEqual(handles.map((h) => h.id));
    // …and delivered twice: a second message per run with another deduplication id, as when a
    // producer retries after the 5-minute window. Only the store can stop these.
    await spool.backend.transport.tasks.send(
      handles.map((h, i) => ({
        body: JSON.stringify({ spool: 1, id: h.id, task: task.name, args: { i } }),
        deduplicationId: `${h.id}-late`,
        groupId: `${h.id}-late`,
      })),
    );

    // WHEN: four worker processes drain the queue.
    const script = join(import.meta.dirname, 'fixtures', 'worker-process.ts');
    for (let n = 0; n < 4; n++) {
      const child = spawn(
        process.execPath,
        ['--conditions=spool-source', '--import', 'tsx', script, dbPath, ledgerPath],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(child);
    }
    const count = ledger.prepare('SELECT COUNT(*) AS c FROM effects');
    const deadline = Date.now() + 240_000;
    for (;;) {
      const stats = await spool.backend.transport.tasks.stats();
      const done = (count.get() as { c: number }).c;
      if (done === TASKS && stats.visible + stats.inFlight === 0) break;
      if (Date.now() > deadline) throw new Error(`timed out: ${done} effects, queue ${JSON.stringify(stats)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const c of children) c.kill('SIGTERM');
    const codes = await Promise.all(children.map(async (c) => (c.exitCode ?? (await once(c, 'exit'))[0]) as number));

    // THEN: one effect per task, none lost, all succeeded, work shared by all four processes.
    expect(codes).toEqual([0, 0, 0, 0]);
    const rows = ledger.prepare('SELECT task_id, n, pid FROM effects').all() as {
      task_id: string;
      n: number;
      pid: number;
    }[];
    expect(rows).toHaveLength(TASKS);
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(new Set(rows.map((r) => r.task_id))).toEqual(new Set(handles.map((h) => h.id)));
    expect(new Set(rows.map((r) => r.pid)).size).toBe(4);
    let retried = 0;
    for (const h of handles) {
      const info = await h.info();
      expect(info?.state).toBe('succeeded');
      if ((info?.attempt ?? 0) > 1) retried++;
    }
    expect(retried).toBeGreaterThan(TASKS * 0.05);
    expect(retried).toBeLessThan(TASKS * 0.15);
    ledger.close();
    await spool.close();
  }, 300_000);
});
