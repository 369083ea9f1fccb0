/**
 * A stopping worker and its long poll, the same on every backend (issue 12): once `stop()` has
 * resolved, no receive of that worker is still open at the queue, so nothing it releases (or
 * anything sent after) is taken by a poll nobody reads. On SQS an aborted `ReceiveMessage` goes
 * on at the server for its whole wait (aws-sdk-js#2350) and hides what it takes for the
 * visibility timeout (30 s here); ElasticMQ does the same, ministack and the embedded queue end it.
 *
 * The receives of the task queue are watched ({@link watchReceives}) so that each test stops the
 * worker while one of its long polls is open, rather than in the moment between two receives.
 */

import type { Backend, Queue } from 'spool-tasks';
import { defineTask } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, interruptedOnce, suffix, useHarness, waitFor } from './harness.js';

/** How long the stopping worker's long polls wait, s: long enough to cover the release after its grace. */
const WAIT_SECONDS = 2;

/** Give a receive just begun the moment its request takes to reach the queue (well within {@link WAIT_SECONDS}). */
const reachesQueue = () => new Promise((resolve) => setTimeout(resolve, 300));

/** A factory whose backends count the long polls (receives with a wait) open on their task queue. */
function watchReceives(factory: BackendFactory): { factory: BackendFactory; openLongPolls: () => number } {
  let open = 0;
  const watched = (queue: Queue): Queue => ({
    get name() {
      return queue.name;
    },
    send: (messages) => queue.send(messages),
    receive: async (options) => {
      const long = options.waitTimeSeconds > 0;
      if (long) open++;
      try {
        return await queue.receive(options);
      } finally {
        if (long) open--;
      }
    },
    delete: (handles) => queue.delete(handles),
    changeVisibility: (handle, seconds) => queue.changeVisibility(handle, seconds),
    stats: () => queue.stats(),
  });
  return {
    openLongPolls: () => open,
    factory: {
      name: factory.name,
      async create(options) {
        const backend = await factory.create(options);
        const transport = { ...backend.transport, tasks: watched(backend.transport.tasks) };
        return new Proxy(backend, {
          get: (target, key) => (key === 'transport' ? transport : Reflect.get(target, key)),
        }) satisfies Backend;
      },
    },
  };
}

export function shutdown(factory: BackendFactory) {
  const receives = watchReceives(factory);
  const app = useHarness(receives.factory);

  describe('shutdown with a long poll open', () => {
    it('GIVEN a run that outlasts the grace period and a long poll open WHEN the worker stops THEN that poll does not keep the released run: another worker completes it at once', async () => {
      const t = interruptedOnce('stoppoll');
      const { spool, startWorker } = await app([t], { worker: false });
      // Concurrency 2: while the run holds one slot, the worker long-polls for the other.
      const first = await startWorker({ concurrency: 2, waitTimeSeconds: WAIT_SECONDS, shutdownGraceMs: 100 });
      const h = await spool.enqueue(t, {});
      await waitFor(async () => (await h.status()) === 'running', 10_000, 'the run to start');
      await waitFor(() => receives.openLongPolls() > 0, 5_000, 'a long poll of the first worker');
      await reachesQueue();
      const stopping = Date.now();
      await first.stop();
      const stopMs = Date.now() - stopping;
      expect(await h.status()).toBe('retrying');
      expect(receives.openLongPolls()).toBe(0);
      // At most the poll's wait (its receive returns) or the grace, whichever is longer, plus slack.
      expect(stopMs).toBeLessThan(WAIT_SECONDS * 1000 + 5_000);
      await startWorker({ waitTimeSeconds: 1 });
      // A poll left open would have hidden the message for the worker's visibility timeout (30 s).
      await expect(h.result({ timeoutMs: 10_000 })).resolves.toBe('finished elsewhere');
    });

    it('GIVEN an idle worker with a long poll open WHEN it stops and a run is enqueued after THEN another worker runs it at once', async () => {
      const t = defineTask({ name: `stopidle.${suffix()}`, schema: z.object({}), handler: () => 'ran' });
      const { spool, startWorker } = await app([t], { worker: false });
      const first = await startWorker({ waitTimeSeconds: WAIT_SECONDS });
      await waitFor(() => receives.openLongPolls() > 0, 5_000, 'a long poll of the idle worker');
      await reachesQueue();
      const stopping = Date.now();
      await first.stop();
      const stopMs = Date.now() - stopping;
      expect(receives.openLongPolls()).toBe(0);
      expect(stopMs).toBeLessThan(WAIT_SECONDS * 1000 + 5_000);
      const h = await spool.enqueue(t, {});
      await startWorker({ waitTimeSeconds: 1 });
      await expect(h.result({ timeoutMs: 10_000 })).resolves.toBe('ran');
    });
  });
}
