import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createSpool, type TaskRecord } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll, describe, expect, it } from 'vitest';
import { poolTasks } from './fixtures/pool-app.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Wait until every run is terminal; its records. */
async function settled(handles: readonly { info(): Promise<TaskRecord | undefined> }[]): Promise<TaskRecord[]> {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const records = await Promise.all(handles.map((h) => h.info()));
    const terminal = records.filter((r) => r !== undefined && ['succeeded', 'failed', 'dead'].includes(r.state));
    if (terminal.length === handles.length) return terminal as TaskRecord[];
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(records.map((r) => r?.state))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(['threads', 'processes'] as const)('handler pool: %s', (kind) => {
  it('GIVEN a handler that loops past its hard timeout, one that crashes its member, one that refuses and one that echoes WHEN a pooled worker runs them THEN the loop is terminated at each hard timeout and the run dies after its attempts without overlap, the crash fails only its attempt, errors keep their semantics and ctx is proxied', async () => {
    const dir = mkdtempSync(join(tmpdir(), `spool-pool-${kind}-`));
    dirs.push(dir);
    const dbPath = join(dir, 'spool.db');
    const ledgerPath = join(dir, 'ledger.db');
    process.env.SPOOL_POOL_TEST_DB = dbPath;
    process.env.SPOOL_POOL_TEST_LEDGER = ledgerPath;
    const { ledger, tasks } = poolTasks(ledgerPath);
    const [spin, echo, refuse, crash] = tasks;
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const spool = createSpool({ backend: openEmbeddedBackend({ path: dbPath }), tasks: [...tasks], logger });
    const worker = spool.worker({
      concurrency: 4,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: 2,
      runSchedules: false,
      pool: { kind, app: new URL('./fixtures/pool-app.ts', import.meta.url), size: 3 },
    });
    await worker.start();

    // GIVEN / WHEN
    const handles = [
      await spool.enqueue(spin, {}),
      await spool.enqueue(echo, { word: 'hi' }),
      await spool.enqueue(refuse, {}),
      await spool.enqueue(crash, {}),
    ];
    const [spun, echoed, refused, crashed] = await settled(handles);
    await worker.stop();

    // THEN: the loop was terminated at each hard timeout; its two attempts never overlapped.
    expect(spun?.state).toBe('dead');
    expect(spun?.attempt).toBe(2);
    expect(spun?.error?.name).toBe('HardTimeoutError');
    const starts = ledger
      .prepare('SELECT attempt, started FROM attempts WHERE task_id = ? ORDER BY attempt')
      .all(spun?.id) as {
      attempt: number;
      started: number;
    }[];
    expect(starts.map((s) => s.attempt)).toEqual([1, 2]);
    const lastSeen = ledger
      .prepare('SELECT MAX(at) AS at FROM seen WHERE task_id = ? AND attempt = 1')
      .get(spun?.id) as {
      at: number;
    };
    // A terminated attempt never records its end: its last "still looping" note is its end, and it
    // came before attempt 2 began (no overlap), within a second of its hard timeout.
    expect(lastSeen.at).toBeLessThan(starts[1]?.started ?? 0);
    expect(lastSeen.at - (starts[0]?.started ?? 0)).toBeLessThan(1500 + 1000);
    expect(lines.some((l) => l.includes('pool member terminated'))).toBe(true);

    // …the echo ran in a member, with progress and logs proxied and its result as JSON.
    expect(echoed?.state).toBe('succeeded');
    const result = JSON.parse(echoed?.result ?? 'null') as { word: string; pid: number; threadId: number; at: string };
    expect(result.word).toBe('hi');
    expect(result.at).toBe('1970-01-01T00:00:00.000Z');
    if (kind === 'threads') expect(result.threadId).toBeGreaterThan(0);
    else expect(result.pid).not.toBe(process.pid);
    expect(JSON.parse(echoed?.progress ?? 'null')).toEqual({ stage: 'echoing' });
    const echoLine = lines.find((l) => l.includes('"echoing"'));
    expect(echoLine).toContain('"word":"hi"');
    expect(echoLine).toContain(`"taskId":"${echoed?.id}"`);

    // …a NonRetriableError from the member failed its run at once.
    expect(refused?.state).toBe('failed');
    expect(refused?.attempt).toBe(1);
    expect(refused?.error).toEqual({ name: 'NonRetriableError', message: 'refused in the pool' });

    // …a member that died failed only its attempt, which was retried.
    expect(crashed?.state).toBe('succeeded');
    expect(crashed?.attempt).toBe(2);
    expect(lines.some((l) => l.includes('PoolMemberError'))).toBe(true);

    ledger.close();
    await spool.close();
  }, 60_000);
});
