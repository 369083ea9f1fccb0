import { defineTask, TaskFailedError, ValidationError } from 'spool-tasks';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, queueDepth, suffix, useHarness, waitFor } from './harness.js';

export function basics(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('enqueue and run', () => {
    it('GIVEN a zod task WHEN enqueued THEN a worker runs it and result() returns its typed result', async () => {
      const add = defineTask({
        name: `math.add.${suffix()}`,
        schema: z.object({ a: z.number(), b: z.number() }),
        handler: ({ a, b }) => ({ sum: a + b }),
      });
      const { spool } = await app([add]);
      const handle = await spool.enqueue(add, { a: 2, b: 3 });
      expect(handle.id).toMatch(/^[0-9a-f]{32}$/);
      await expect(handle.result({ timeoutMs: 10_000 })).resolves.toEqual({ sum: 5 });
      expect(await handle.status()).toBe('succeeded');
      const info = await handle.info();
      expect(info?.attempt).toBe(1);
      expect(info?.finishedAt).toBeTypeOf('number');
    });

    it('GIVEN a valibot task WHEN enqueued THEN the handler gets the schema output (transforms applied)', async () => {
      const shout = defineTask({
        name: `text.shout.${suffix()}`,
        schema: v.object({
          text: v.pipe(
            v.string(),
            v.transform((s) => s.toUpperCase()),
          ),
        }),
        handler: ({ text }) => text,
      });
      const { spool } = await app([shout]);
      const handle = await spool.enqueue(shout, { text: 'hi' });
      await expect(handle.result({ timeoutMs: 10_000 })).resolves.toBe('HI');
    });

    it('GIVEN no worker WHEN a run is enqueued THEN its status is queued and result() times out', async () => {
      const noop = defineTask({ name: `noop.${suffix()}`, schema: z.object({}), handler: () => null });
      const { spool } = await app([noop], { worker: false });
      const handle = await spool.enqueue(noop, {});
      expect(await handle.status()).toBe('queued');
      await expect(handle.result({ timeoutMs: 100 })).rejects.toThrow(/did not finish within 100 ms/);
    });

    it('GIVEN invalid arguments WHEN enqueued THEN ValidationError says what is wrong and nothing is sent', async () => {
      const t = defineTask({ name: `strict.${suffix()}`, schema: z.object({ n: z.number().int() }), handler: () => 1 });
      const { spool } = await app([t], { worker: false });
      // @ts-expect-error a string is not a number: a compile error as well
      const attempt = spool.enqueue(t, { n: 'seven' });
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toThrow(
        /Invalid arguments for task 'strict\..*' at enqueue: n: .*Nothing was enqueued/,
      );
      expect(await queueDepth(spool)).toBe(0);
    });

    it('GIVEN 1,000 argument sets WHEN enqueued in bulk in one call THEN every run completes once', async () => {
      const ran = new Map<number, number>();
      const t = defineTask({
        name: `bulk.${suffix()}`,
        schema: z.object({ i: z.number() }),
        handler: ({ i }) => void ran.set(i, (ran.get(i) ?? 0) + 1),
      });
      const { spool } = await app([t], { worker: { concurrency: 50 } });
      const handles = await spool.enqueueMany(
        t,
        Array.from({ length: 1000 }, (_, i) => ({ i })),
      );
      expect(handles).toHaveLength(1000);
      await waitFor(() => ran.size === 1000, 100_000, '1000 runs');
      expect([...ran.values()].every((n) => n === 1)).toBe(true);
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000, 'empty queue');
    }, 120_000);

    it('GIVEN one invalid item among many WHEN enqueued in bulk THEN the error names its index and nothing is sent', async () => {
      const t = defineTask({ name: `bulkbad.${suffix()}`, schema: z.object({ i: z.number() }), handler: () => 1 });
      const { spool } = await app([t], { worker: false });
      const list = [{ i: 1 }, { i: 2 }, { i: 'x' as unknown as number }];
      await expect(spool.enqueueMany(t, list)).rejects.toThrow(/item 2 of 3/);
      expect(await queueDepth(spool)).toBe(0);
    });

    it('GIVEN an ordering key WHEN several runs share it THEN they run one at a time in enqueue order', async () => {
      const order: number[] = [];
      let running = 0;
      let overlap = false;
      const t = defineTask({
        name: `ordered.${suffix()}`,
        schema: z.object({ i: z.number() }),
        idempotencyKey: false,
        async handler({ i }) {
          running++;
          if (running > 1) overlap = true;
          await new Promise((r) => setTimeout(r, 20));
          order.push(i);
          running--;
        },
      });
      const { spool } = await app([t], { worker: { concurrency: 10 } });
      for (let i = 0; i < 8; i++) await spool.enqueue(t, { i }, { orderingKey: 'customer-1' });
      await waitFor(() => order.length === 8, 20_000, '8 ordered runs');
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(overlap).toBe(false);
    });

    it('GIVEN an ordering key WHEN an earlier run fails once and retries THEN the later runs wait for its retry', async () => {
      const order: string[] = [];
      let failed = false;
      const t = defineTask({
        name: `ordered.retry.${suffix()}`,
        schema: z.object({ i: z.number() }),
        idempotencyKey: false,
        retry: { maxAttempts: 3, minDelayMs: 1000, maxDelayMs: 1000 },
        handler({ i }) {
          if (i === 1 && !failed) {
            failed = true;
            order.push('1 failed');
            throw new Error('first attempt of run 1 fails');
          }
          order.push(String(i));
        },
      });
      const { spool } = await app([t], { worker: { concurrency: 10 } });
      for (let i = 0; i < 4; i++) await spool.enqueue(t, { i }, { orderingKey: 'customer-1' });
      await waitFor(() => order.length === 5, 30_000, '4 ordered runs and one retry');
      expect(order).toEqual(['0', '1 failed', '1', '2', '3']);
    });

    it('GIVEN a run that ended failed WHEN result() is awaited THEN it rejects with TaskFailedError', async () => {
      const t = defineTask({
        name: `fails.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 1 },
        handler: () => {
          throw new Error('boom');
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      const failure = await h.result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(TaskFailedError);
      expect((failure as TaskFailedError).state).toBe('dead');
      expect((failure as TaskFailedError).message).toMatch(/Error: boom/);
    });
  });
}
