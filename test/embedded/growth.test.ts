/**
 * The embedded file under a steady bulk load (issue 12): expired FIFO deduplication ids and
 * expired task records are swept on every write path, so the file stops growing, and no id is
 * swept before its 5-minute window ends.
 */

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEDUPLICATION_WINDOW_MS, type OutgoingMessage, type Queue } from 'spool-tasks';
import { type EmbeddedBackend, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';

const T0 = 1_700_000_000_000;
const dirs: string[] = [];
const opened: EmbeddedBackend[] = [];

afterEach(() => {
  for (const backend of opened.splice(0)) backend.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openAt(now: () => number): { backend: EmbeddedBackend; path: string } {
  const dir = join(tmpdir(), `spool-growth-${randomUUID()}`);
  dirs.push(dir);
  const path = join(dir, 'spool.db');
  const backend = openEmbeddedBackend({ path, now, crossProcessWake: false });
  opened.push(backend);
  return { backend, path };
}

const message = (id: string): OutgoingMessage => ({ body: JSON.stringify({ id }), deduplicationId: id, groupId: id });

/** Receive and delete everything visible; the deduplication ids received. */
async function drain(queue: Queue): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const batches = await Promise.all(
      Array.from({ length: 20 }, () =>
        queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60, waitTimeSeconds: 0 }),
      ),
    );
    const received = batches.flat();
    if (received.length === 0) return ids;
    for (const m of received) ids.push(m.deduplicationId);
    await queue.delete(received.map((m) => m.receiptHandle));
  }
}

/** Row counts and file size, read on a second connection (as an operator would). */
function census(path: string): { dedup: number; tasks: number; pages: number } {
  const db = new Database(path, { readonly: true });
  try {
    const count = (table: string) => db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get() ?? 0;
    return {
      dedup: count('dedup'),
      tasks: count('tasks'),
      pages: Number(db.pragma('page_count', { simple: true })),
    };
  } finally {
    db.close();
  }
}

describe('embedded file growth under bulk enqueue', () => {
  it('GIVEN a steady bulk load over six dedup windows WHEN every send is a bulk send THEN dedup ids, records and the file stay bounded', async () => {
    let clock = T0;
    const { backend, path } = openAt(() => clock);
    const queue = backend.transport.tasks;
    const TICK_MS = 10_000;
    const PER_TICK = 500; // one enqueueMany of 500 runs every 10 s: 15,000 ids per window
    const RETENTION_MS = 120_000;
    const ticks = (6 * DEDUPLICATION_WINDOW_MS) / TICK_MS;
    const perWindow = (PER_TICK * DEDUPLICATION_WINDOW_MS) / TICK_MS;
    const perRetention = (PER_TICK * RETENTION_MS) / TICK_MS;
    const samples: { tick: number; dedup: number; tasks: number; pages: number }[] = [];
    let n = 0;
    for (let tick = 0; tick < ticks; tick++) {
      clock += TICK_MS;
      const ids = Array.from({ length: PER_TICK }, () => `run-${n++}`);
      await queue.send(ids.map(message));
      const received = await drain(queue);
      expect(received).toHaveLength(PER_TICK);
      // Each run is claimed and finished (two store writes), its record kept for RETENTION_MS.
      await Promise.all(
        received.map(async (id) => {
          const input = { id, task: 't', owner: 'w', now: clock, leaseMs: 30_000, maxAttempts: 3 };
          await backend.store.claim({ ...input, expiresAt: clock + 30_000 + RETENTION_MS });
          await backend.store.finish({
            id,
            owner: 'w',
            now: clock,
            state: 'succeeded',
            expiresAt: clock + RETENTION_MS,
          });
        }),
      );
      if (tick % 6 === 5) samples.push({ tick, ...census(path) });
    }
    const last = samples.at(-1);
    const afterTwoWindows = samples.find((s) => s.tick >= (2 * DEDUPLICATION_WINDOW_MS) / TICK_MS);
    expect(last).toBeDefined();
    expect(afterTwoWindows).toBeDefined();
    if (last === undefined || afterTwoWindows === undefined) return;
    // 90,000 ids were sent; only about one window's worth (plus a sweep's lag) is live.
    for (const s of samples) expect(s.dedup).toBeLessThanOrEqual(perWindow + 2 * PER_TICK);
    for (const s of samples) expect(s.tasks).toBeLessThanOrEqual(2 * perRetention + 2 * PER_TICK);
    // The file stops growing once the first windows have passed: freed pages are reused.
    expect(last.pages).toBeLessThanOrEqual(Math.ceil(afterTwoWindows.pages * 1.1));
    console.info('growth', { sent: n, perWindow, samples: samples.filter((_, i) => i % 4 === 3) });
  }, 120_000);

  it('GIVEN a bulk load that sweeps WHEN a duplicate comes inside its 5-minute window THEN it is still dropped, and accepted after', async () => {
    let clock = T0;
    const { backend } = openAt(() => clock);
    const queue = backend.transport.tasks;
    await queue.send([message('probe')]);
    expect(await drain(queue)).toEqual(['probe']);
    let n = 0;
    // Bulk sends (and their sweeps) run through the whole window, each tick sweeping what expired.
    for (let elapsed = 10_000; elapsed < DEDUPLICATION_WINDOW_MS; elapsed += 10_000) {
      clock = T0 + elapsed;
      await queue.send(Array.from({ length: 500 }, () => message(`bulk-${n++}`)));
      await drain(queue);
    }
    // GIVEN 1 ms before the window ends WHEN the probe is sent again THEN it is deduplicated
    clock = T0 + DEDUPLICATION_WINDOW_MS - 1;
    await queue.send(Array.from({ length: 500 }, () => message(`bulk-${n++}`)));
    await queue.send([message('probe')]);
    expect((await drain(queue)).filter((id) => id === 'probe')).toEqual([]);
    // … and once the window has ended it is a new message.
    clock = T0 + DEDUPLICATION_WINDOW_MS;
    await queue.send([message('probe')]);
    expect(await drain(queue)).toEqual(['probe']);
  }, 60_000);
});
