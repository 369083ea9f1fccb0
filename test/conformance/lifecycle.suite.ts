import { defineTask, listDeadLetters, type Middleware, redriveDeadLetters } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, deferred, interruptedOnce, queueDepth, suffix, useHarness, waitFor } from './harness.js';

export function lifecycle(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('cancel, progress, results, middleware, logs', () => {
    it('GIVEN a queued run WHEN cancelled THEN it never runs and ends cancelled', async () => {
      let calls = 0;
      const t = defineTask({ name: `cancelme.${suffix()}`, schema: z.object({}), handler: () => void calls++ });
      const { spool, startWorker } = await app([t], { worker: false });
      const h = await spool.enqueue(t, {});
      await expect(h.cancel()).resolves.toBe('cancelled');
      await startWorker();
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000, 'message acknowledged');
      expect(calls).toBe(0);
      expect(await h.status()).toBe('cancelled');
      await expect(h.result({ timeoutMs: 1000 })).rejects.toThrow(/ended cancelled/);
    });

    it('GIVEN a bare id never enqueued WHEN cancelled THEN its record is cancelled and names no task', async () => {
      const { spool } = await app([], { worker: false });
      const handle = spool.handle(`never-seen-${suffix()}`);
      expect(handle.task).toBeUndefined();
      expect(await handle.cancel()).toBe('cancelled');
      const record = await handle.info();
      expect(record?.state).toBe('cancelled');
      expect(record).not.toHaveProperty('task');
      await expect(handle.result({ timeoutMs: 1000 })).rejects.toThrow(/^Run never-seen-\S+ ended cancelled$/);
    });

    it('GIVEN a running run WHEN cancelled THEN its signal aborts at the next heartbeat and it ends cancelled', async () => {
      const started = deferred();
      const t = defineTask({
        name: `cancelrun.${suffix()}`,
        schema: z.object({}),
        leaseSeconds: 1,
        handler: async (_a, ctx) => {
          started.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          throw ctx.signal.reason;
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await started.promise;
      await expect(h.cancel()).resolves.toBe('requested');
      await expect(h.result({ timeoutMs: 10_000 })).rejects.toThrow(/ended cancelled/);
      await expect(h.cancel()).resolves.toBe('finished');
    });

    it('GIVEN ctx.progress WHEN the run reports progress THEN info() shows it while it runs', async () => {
      const release = deferred();
      const seen: unknown[] = [];
      const t = defineTask({
        name: `progress.${suffix()}`,
        schema: z.object({}),
        // Destructured, as handlers often take it: every member works without its object.
        handler: async (_a, { progress, signal, taskId, taskName, attempt, maxAttempts, logger }) => {
          seen.push(signal.aborted, typeof taskId, taskName, attempt, maxAttempts, typeof logger.info);
          await progress({ done: 3, of: 10 });
          await release.promise;
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await waitFor(async () => (await h.info())?.progress !== undefined, 10_000, 'progress');
      expect(JSON.parse((await h.info())?.progress ?? 'null')).toEqual({ done: 3, of: 10 });
      release.resolve();
      await h.result({ timeoutMs: 10_000 });
      expect(seen).toEqual([false, 'string', t.name, 1, t.retry.maxAttempts, 'function']);
    });

    it('GIVEN ignoreResult THEN the run succeeds and no result is stored', async () => {
      const t = defineTask({
        name: `ignored.${suffix()}`,
        schema: z.object({}),
        ignoreResult: true,
        handler: () => 'big',
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await expect(h.result({ timeoutMs: 10_000 })).resolves.toBeUndefined();
      expect(await h.status()).toBe('succeeded');
    });

    it('GIVEN a result retention of 60 s WHEN 61 s pass THEN the record is gone', async () => {
      const t = defineTask({ name: `ttl.${suffix()}`, schema: z.object({}), resultTtlSeconds: 60, handler: () => 42 });
      const { spool, clock } = await app([t]);
      const h = await spool.enqueue(t, {});
      await expect(h.result({ timeoutMs: 10_000 })).resolves.toBe(42);
      clock.advance(59_000);
      expect(await h.info()).toBeDefined();
      clock.advance(2_000);
      expect(await h.info()).toBeUndefined();
    });

    it('GIVEN middleware THEN its hooks run in order with the run, and onEnqueue can refuse an enqueue', async () => {
      const seen: string[] = [];
      const audit: Middleware = {
        name: 'audit',
        onEnqueue: (e) => void seen.push(`enqueue:${e.task}`),
        beforeRun: (e) => void seen.push(`before:${e.attempt}`),
        afterRun: (e) => void seen.push(`after:${String(e.result)}`),
        onFailure: (e) => void seen.push(`failure:${e.attempt}:${e.willRetry}`),
      };
      const guard: Middleware = {
        onEnqueue: (e) => {
          if ((e.args as { n: number }).n < 0) throw new Error('negative numbers are refused');
        },
      };
      const t = defineTask({
        name: `mw.${suffix()}`,
        schema: z.object({ n: z.number() }),
        retry: { maxAttempts: 2, minDelayMs: 0, maxDelayMs: 0 },
        handler: ({ n }, ctx) => {
          if (ctx.attempt === 1) throw new Error('once');
          return n * 2;
        },
      });
      const { spool } = await app([t], { middleware: [audit, guard] });
      await expect(spool.enqueue(t, { n: -1 })).rejects.toThrow('negative numbers are refused');
      await (await spool.enqueue(t, { n: 4 })).result({ timeoutMs: 10_000 });
      expect(seen).toEqual([
        `enqueue:${t.name}`,
        `enqueue:${t.name}`,
        'before:1',
        'failure:1:true',
        'before:2',
        'after:8',
      ]);
      // Acknowledgements go out in batches, shortly after the run ends.
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000, 'message acknowledged');
    });

    it('GIVEN a run THEN its log lines carry taskId, task and attempt', async () => {
      const t = defineTask({
        name: `logged.${suffix()}`,
        schema: z.object({}),
        handler: (_a, ctx) => ctx.logger.info('inside the handler', { extra: 1 }),
      });
      const { spool, logs } = await app([t]);
      const h = await spool.enqueue(t, {});
      await h.result({ timeoutMs: 10_000 });
      const inside = logs.find((l) => l.message === 'inside the handler');
      expect(inside).toMatchObject({ level: 'info', taskId: h.id, task: t.name, attempt: 1, extra: 1 });
      const done = logs.find((l) => l.message === 'attempt succeeded');
      expect(done).toMatchObject({ taskId: h.id, task: t.name, attempt: 1 });
      expect(done?.durationMs).toBeTypeOf('number');
    });
  });

  describe('shutdown and redrive', () => {
    it('GIVEN runs in flight WHEN the worker stops THEN they finish first and nothing is lost', async () => {
      const done = new Set<number>();
      const t = defineTask({
        name: `drain.${suffix()}`,
        schema: z.object({ i: z.number() }),
        handler: async ({ i }) => {
          await new Promise((r) => setTimeout(r, 300));
          done.add(i);
        },
      });
      const { spool, startWorker } = await app([t], { worker: false });
      const worker = await startWorker({ concurrency: 5, shutdownGraceMs: 10_000 });
      await spool.enqueueMany(
        t,
        Array.from({ length: 5 }, (_, i) => ({ i })),
      );
      await waitFor(() => worker.inFlight === 5, 10_000, '5 in flight');
      await worker.stop();
      expect(done.size).toBe(5);
      expect(await queueDepth(spool)).toBe(0);
    });

    it('GIVEN a run that outlasts the grace period WHEN the worker stops THEN it is released and another worker completes it', async () => {
      const t = interruptedOnce('interrupt');
      const { spool, startWorker } = await app([t], { worker: false });
      const first = await startWorker({ shutdownGraceMs: 100 });
      const h = await spool.enqueue(t, {});
      await waitFor(async () => (await h.status()) === 'running', 10_000);
      await first.stop();
      expect(await h.status()).toBe('retrying');
      await startWorker();
      await expect(h.result({ timeoutMs: 10_000 })).resolves.toBe('finished elsewhere');
    });

    it('GIVEN dead letters WHEN redriven THEN they run again and the dead-letter queue is empty', async () => {
      const fixed = { now: false };
      const t = defineTask({
        name: `redrive.${suffix()}`,
        schema: z.object({ i: z.number() }),
        retry: { maxAttempts: 1 },
        handler: ({ i }) => {
          if (!fixed.now) throw new Error('bug');
          return i;
        },
      });
      const { spool } = await app([t]);
      const hs = await spool.enqueueMany(t, [{ i: 1 }, { i: 2 }, { i: 3 }]);
      for (const h of hs) await expect(h.result({ timeoutMs: 10_000 })).rejects.toThrow(/dead/);
      await waitFor(async () => (await listDeadLetters(spool.backend, { limit: 10 })).length === 3, 10_000);
      fixed.now = true;
      const firstId = hs[0]?.id ?? '';
      expect(await redriveDeadLetters(spool.backend, { taskIds: [firstId] })).toBe(1);
      await expect(hs[0]?.result({ timeoutMs: 10_000 })).resolves.toBe(1);
      const progress: number[] = [];
      expect(await redriveDeadLetters(spool.backend, { onProgress: (n) => progress.push(n) })).toBe(2);
      expect(progress.at(-1)).toBe(2);
      await expect(Promise.all(hs.map((h) => h.result({ timeoutMs: 10_000 })))).resolves.toEqual([1, 2, 3]);
      expect(await listDeadLetters(spool.backend, { limit: 10 })).toHaveLength(0);
    });
  });
}
