import { defineTask, listDeadLetters, NonRetriableError, RetryAfterError, TaskFailedError } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEAD_LETTER_ATTRIBUTES } from '../../lib/protocol/reasons.js';
import { type BackendFactory, suffix, useHarness, waitFor, waitForDeadLetters } from './harness.js';

export function retries(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('retries, timeouts and dead letters', () => {
    it('GIVEN a handler that fails twice WHEN maxAttempts is 3 THEN the third attempt succeeds', async () => {
      let calls = 0;
      const t = defineTask({
        name: `flaky.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 3, minDelayMs: 0, maxDelayMs: 0 },
        handler: (_args, ctx) => {
          calls++;
          if (ctx.attempt < 3) throw new Error(`flake ${ctx.attempt}`);
          return ctx.attempt;
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe(3);
      expect(calls).toBe(3);
    });

    it('GIVEN a retrying run THEN its record is retrying with the error and a due time', async () => {
      const gate = { open: false };
      const t = defineTask({
        name: `slowretry.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 2, minDelayMs: 2000, maxDelayMs: 2000 },
        handler: (_a, ctx) => {
          if (ctx.attempt === 1) throw new Error('first fails');
          gate.open = true;
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await waitFor(async () => (await h.status()) === 'retrying', 10_000, 'retrying');
      const info = await h.info();
      expect(info?.error).toEqual({ name: 'Error', message: 'first fails' });
      expect(info?.nextRunAt).toBeGreaterThan(Date.now());
      const started = Date.now();
      await h.result({ timeoutMs: 15_000 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(gate.open).toBe(true);
    });

    it('GIVEN a NonRetriableError THEN the run fails after one attempt and is not dead-lettered', async () => {
      let calls = 0;
      const t = defineTask({
        name: `fatal.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 5, minDelayMs: 0 },
        handler: () => {
          calls++;
          throw new NonRetriableError('card declined');
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      const error = await h.result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskFailedError);
      expect((error as TaskFailedError).state).toBe('failed');
      expect((error as TaskFailedError).errorName).toBe('NonRetriableError');
      expect(calls).toBe(1);
      expect(await listDeadLetters(spool.backend, { limit: 10 })).toHaveLength(0);
    });

    it('GIVEN a NonRetriableError from another copy of spool-tasks (its brand and code, not this class) THEN the run fails after one attempt', async () => {
      let calls = 0;
      const t = defineTask({
        name: `fatal.copy.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 5, minDelayMs: 0 },
        handler: () => {
          calls++;
          // What a second bundle's NonRetriableError is to this one: an Error with the shared brand.
          const error = Object.assign(new Error('card declined'), { name: 'NonRetriableError', code: 'NON_RETRIABLE' });
          Object.defineProperty(error, Symbol.for('spool-tasks.error'), { value: true });
          throw error;
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      const error = await h.result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect((error as TaskFailedError).state).toBe('failed');
      expect(calls).toBe(1);
    });

    it('GIVEN a RetryAfterError THEN the next attempt waits the given delay', async () => {
      const times: number[] = [];
      const t = defineTask({
        name: `ratelimited.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 2, minDelayMs: 0, maxDelayMs: 0 },
        handler: (_a, ctx) => {
          times.push(Date.now());
          if (ctx.attempt === 1) throw new RetryAfterError('429', { retryAfterMs: 1500 });
        },
      });
      const { spool } = await app([t]);
      await (await spool.enqueue(t, {})).result({ timeoutMs: 15_000 });
      expect(times).toHaveLength(2);
      expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1400);
    });

    it('GIVEN retries exhausted THEN the run is dead and its message is in the dead-letter queue with the reason', async () => {
      const t = defineTask({
        name: `doomed.${suffix()}`,
        schema: z.object({ n: z.number() }),
        retry: { maxAttempts: 2, minDelayMs: 0, maxDelayMs: 0 },
        handler: () => {
          throw new Error('provider down');
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, { n: 1 });
      await expect(h.result({ timeoutMs: 15_000 })).rejects.toThrow(/ended dead: Error: provider down/);
      const dead = await waitForDeadLetters(spool, 1);
      expect(dead[0]?.taskId).toBe(h.id);
      expect(dead[0]?.task).toBe(t.name);
      expect(dead[0]?.reason).toMatch(/provider down \(attempt 2 of 2, no attempts left\)/);
      expect(DEAD_LETTER_ATTRIBUTES.reason).toBe('spool-reason');
    });

    it('GIVEN a soft timeout THEN the handler signal aborts with a TimeoutError and the attempt can wind down', async () => {
      let reason: unknown;
      const t = defineTask({
        name: `soft.${suffix()}`,
        schema: z.object({}),
        timeout: { softMs: 200 },
        retry: { maxAttempts: 1 },
        handler: async (_a, ctx) => {
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          reason = ctx.signal.reason;
          return 'wound down';
        },
      });
      const { spool } = await app([t]);
      await expect((await spool.enqueue(t, {})).result({ timeoutMs: 10_000 })).resolves.toBe('wound down');
      expect((reason as Error).name).toBe('TimeoutError');
    });

    it('GIVEN a hard timeout THEN the attempt is abandoned, counted as failed, and retried', async () => {
      const t = defineTask({
        name: `hard.${suffix()}`,
        schema: z.object({}),
        timeout: { hardMs: 300 },
        retry: { maxAttempts: 2, minDelayMs: 0, maxDelayMs: 0 },
        handler: async (_a, ctx) => {
          if (ctx.attempt === 1) await new Promise((r) => setTimeout(r, 5000)); // ignores its signal
          return ctx.attempt;
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await expect(h.result({ timeoutMs: 10_000 })).resolves.toBe(2);
      expect((await h.info())?.attempt).toBe(2);
    });

    it('GIVEN a hard timeout on every attempt THEN the run ends dead with HardTimeoutError', async () => {
      const t = defineTask({
        name: `hardfail.${suffix()}`,
        schema: z.object({}),
        timeout: { hardMs: 200 },
        retry: { maxAttempts: 1 },
        handler: () => new Promise((r) => setTimeout(r, 3000)),
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await expect(h.result({ timeoutMs: 10_000 })).rejects.toThrow(/HardTimeoutError: hard timeout/);
      await waitFor(async () => (await h.status()) === 'dead');
    });
  });
}
