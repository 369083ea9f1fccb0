/**
 * The 12-hour visibility window counted from the receive (issue 12), on the embedded backend with a
 * driven clock: the queue refuses what SQS refuses, and a retry due later than its receive's window
 * allows comes back, is hidden again from the new receive, and runs only when due.
 */

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, createSpool, defineTask, RetryAfterError, silentLogger } from 'spool-tasks';
import { type EmbeddedBackend, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_VISIBILITY_SECONDS } from '../../lib/backend/transport.js';

const HOUR_MS = 3_600_000;
const T0 = 1_700_000_000_000;
const dirs: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function driven(start = T0) {
  let time = start;
  return {
    now: () => time,
    set: (at: number) => {
      time = at;
    },
    advance: (ms: number) => {
      time += ms;
    },
  };
}

function open(now: () => number): EmbeddedBackend {
  const dir = join(tmpdir(), `spool-window-${randomUUID()}`);
  dirs.push(dir);
  const backend = openEmbeddedBackend({ path: join(dir, 'spool.db'), now, crossProcessWake: false });
  cleanups.push(() => backend.close());
  return backend;
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('embedded queue: visibility limit counted from the receive', () => {
  it('GIVEN a message received 6 hours ago WHEN hidden for the 6 hours left THEN accepted; one second more THEN refused, saying how much is left', async () => {
    const clock = driven();
    const queue = open(clock.now).transport.tasks;
    await queue.send([{ body: '{}', deduplicationId: 'a', groupId: 'g' }]);
    const [message] = await queue.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 });
    expect(message?.receivedAt).toBe(T0);
    const handle = message?.receiptHandle ?? '';
    clock.advance(6 * HOUR_MS);
    expect(await queue.changeVisibility(handle, 6 * 3600)).toBe(true);
    const refused = await queue.changeVisibility(handle, 6 * 3600 + 1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as Error).message).toMatch(
      /EmbeddedQueue spool: changeVisibility: a visibility timeout of 21601 s would end .*more than 43200 s \(12 hours\) after the message was received \(2023-11-14T22:13:20\.000Z\); .*at most 21600 s are left/,
    );
    // A later receive has a fresh window.
    clock.advance(6 * HOUR_MS);
    const [again] = await queue.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 });
    expect(again?.receiveCount).toBe(2);
    expect(await queue.changeVisibility(again?.receiptHandle ?? '', MAX_VISIBILITY_SECONDS)).toBe(true);
  });

  it('GIVEN a receipt handle without a receive time (an older spool) THEN it still works, unchecked', async () => {
    const clock = driven();
    const queue = open(clock.now).transport.tasks;
    await queue.send([{ body: '{}', deduplicationId: 'a', groupId: 'g' }]);
    const [message] = await queue.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 });
    const legacy = (message?.receiptHandle ?? '').split('.').slice(0, 2).join('.');
    clock.advance(HOUR_MS);
    expect(await queue.changeVisibility(legacy, MAX_VISIBILITY_SECONDS)).toBe(true);
    await queue.delete([legacy]);
    expect(await queue.stats()).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe('a retry due beyond its receive window', () => {
  it('GIVEN an attempt of 1 hour that asks to retry in 12 hours WHEN the message comes back at the end of its window THEN it is hidden again and runs only when due', async () => {
    const clock = driven();
    const backend = open(clock.now);
    const starts: number[] = [];
    const task = defineTask({
      name: 'slow.then.later',
      schema: z.object({}),
      retry: { maxAttempts: 3 },
      handler: (_args, ctx) => {
        starts.push(clock.now());
        if (ctx.attempt === 1) {
          clock.advance(HOUR_MS); // the attempt took an hour
          throw new RetryAfterError('come back in 12 hours', { retryAfterMs: 12 * HOUR_MS });
        }
        return 'done';
      },
    });
    const spool = createSpool({ backend, tasks: [task], now: clock.now, logger: silentLogger });
    cleanups.push(() => spool.close());
    const worker = spool.worker({ waitTimeSeconds: 1, shutdownGraceMs: 1000 });
    cleanups.push(() => worker.stop());
    await worker.start();
    const handle = await spool.enqueue(task, {});
    await waitUntil(() => (worker.counts.get('retrying') ?? 0) === 1, 'the first attempt to fail');
    const retrying = await handle.info();
    expect(retrying?.state).toBe('retrying');
    const due = T0 + HOUR_MS + 12 * HOUR_MS;
    expect(retrying?.nextRunAt).toBe(due);

    // The message was hidden to the end of its receive's window (12 h from T0), not for 12 h from
    // the failure: SQS refuses that. There it comes back, and the claim finds the run not due.
    clock.set(T0 + 12 * HOUR_MS - 5_000);
    await waitUntil(() => (worker.counts.get('not due') ?? 0) === 1, 'the early copy to be turned away');
    expect(starts).toHaveLength(1);
    expect((await handle.info())?.state).toBe('retrying');

    // Hidden again from the new receive, until the retry is due: not a moment before.
    clock.set(due - 2_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(starts).toHaveLength(1);
    clock.set(due);
    await expect(handle.result({ timeoutMs: 10_000 })).resolves.toBe('done');
    expect(starts).toEqual([T0, due]);
    expect(worker.counts.get('not due')).toBe(1);
  });
});
