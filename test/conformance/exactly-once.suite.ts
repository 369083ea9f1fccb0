import { defineTask, type RetryOptions } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, queueDepth, suffix, useHarness, waitFor } from './harness.js';

interface Extra {
  readonly name?: string;
  readonly leaseSeconds?: number;
  readonly retry?: RetryOptions;
  readonly idempotencyKey?: false;
}

export function exactlyOnce(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('exactly-once effect', () => {
    const counted = (runs: Map<string, number>, extra: Extra = {}) =>
      defineTask({
        name: `effect.${suffix()}`,
        schema: z.object({ key: z.string(), ms: z.number().default(0) }),
        ...extra,
        async handler({ key, ms }) {
          runs.set(key, (runs.get(key) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, ms));
          return key;
        },
      });

    it('GIVEN the same arguments enqueued twice THEN both handles share one id and the effect happens once', async () => {
      const runs = new Map<string, number>();
      const t = counted(runs);
      const { spool } = await app([t]);
      const a = await spool.enqueue(t, { key: 'k', ms: 0 });
      const b = await spool.enqueue(t, { ms: 0, key: 'k' }); // key order does not matter
      expect(b.id).toBe(a.id);
      await a.result({ timeoutMs: 10_000 });
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000);
      expect(runs.get('k')).toBe(1);
    });

    it('GIVEN an explicit idempotency key WHEN arguments differ THEN it is one run; idempotencyKey:false makes two', async () => {
      const runs = new Map<string, number>();
      const t = counted(runs);
      const fresh = counted(runs, { idempotencyKey: false, name: `fresh.${suffix()}` });
      const { spool } = await app([t, fresh]);
      const a = await spool.enqueue(t, { key: 'x', ms: 0 }, { idempotencyKey: 'order-1' });
      const b = await spool.enqueue(t, { key: 'x', ms: 0 }, { idempotencyKey: 'order-1' });
      expect(b.id).toBe(a.id);
      const c = await spool.enqueue(fresh, { key: 'y', ms: 0 });
      const d = await spool.enqueue(fresh, { key: 'y', ms: 0 });
      expect(c.id).not.toBe(d.id);
      await Promise.all([a, c, d].map((h) => h.result({ timeoutMs: 10_000 })));
      expect(runs.get('x')).toBe(1);
      expect(runs.get('y')).toBe(2);
    });

    it('GIVEN a finished run WHEN its message is delivered again (outside the dedup window) THEN it is acknowledged without running', async () => {
      const runs = new Map<string, number>();
      const t = counted(runs);
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, { key: 'dup', ms: 0 });
      await h.result({ timeoutMs: 10_000 });
      const body = JSON.stringify({ spool: 1, id: h.id, task: t.name, args: { key: 'dup', ms: 0 } });
      await spool.backend.transport.tasks.send([{ body, deduplicationId: `${h.id}-again`, groupId: h.id }]);
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000, 'duplicate acknowledged');
      expect(runs.get('dup')).toBe(1);
    });

    it('GIVEN a visibility timeout shorter than the task and two workers THEN the task runs once (heartbeat keeps the lease)', async () => {
      const runs = new Map<string, number>();
      const t = counted(runs, { leaseSeconds: 2 });
      const { spool, startWorker } = await app([t], { worker: { visibilityTimeoutSeconds: 1, workerId: 'w1' } });
      await startWorker({ visibilityTimeoutSeconds: 1, workerId: 'w2' });
      const h = await spool.enqueue(t, { key: 'long', ms: 3500 });
      // A second copy arrives while the first runs (as SQS may deliver one): it must not start a second run.
      await waitFor(async () => (await h.status()) === 'running', 10_000, 'running');
      const body = JSON.stringify({ spool: 1, id: h.id, task: t.name, args: { key: 'long', ms: 3500 } });
      await spool.backend.transport.tasks.send([{ body, deduplicationId: `${h.id}-copy`, groupId: `${h.id}-copy` }]);
      await h.result({ timeoutMs: 20_000 });
      // With a 1 s visibility timeout, a delete that waited a second for companions let the
      // acknowledged message come back and be received again before it, over and over.
      await waitFor(async () => (await queueDepth(spool)) === 0, 20_000, 'copies acknowledged');
      expect(runs.get('long')).toBe(1);
      expect((await h.info())?.attempt).toBe(1);
    });

    it('GIVEN a worker that crashed holding the lease WHEN the lease expires THEN another worker runs it (attempt 2)', async () => {
      const runs = new Map<string, number>();
      const t = counted(runs, { leaseSeconds: 1 });
      const { spool, clock, startWorker } = await app([t], { worker: false });
      const h = await spool.enqueue(t, { key: 'crash', ms: 0 }, { idempotencyKey: 'crash-1' });
      // A worker that died mid-attempt: it claimed the run and then never heartbeat or finished.
      const claim = await spool.backend.store.claim({
        id: h.id,
        task: t.name,
        owner: 'dead-worker/1',
        now: clock.now(),
        leaseMs: 1000,
        maxAttempts: 3,
        expiresAt: clock.now() + 60_000,
      });
      expect(claim.outcome).toBe('claimed');
      await startWorker();
      await h.result({ timeoutMs: 15_000 });
      expect(runs.get('crash')).toBe(1);
      expect((await h.info())?.attempt).toBe(2);
    });

    it('GIVEN a lease that expired with no attempts left THEN the run is dead-lettered with a reason', async () => {
      const runs = new Map<string, number>();
      const t = counted(runs, { leaseSeconds: 1, retry: { maxAttempts: 1 } });
      const { spool, clock, startWorker } = await app([t], { worker: false });
      const h = await spool.enqueue(t, { key: 'lost', ms: 0 });
      await spool.backend.store.claim({
        id: h.id,
        task: t.name,
        owner: 'dead-worker/2',
        now: clock.now(),
        leaseMs: 500,
        maxAttempts: 1,
        expiresAt: clock.now() + 60_000,
      });
      await startWorker();
      await expect(h.result({ timeoutMs: 15_000 })).rejects.toThrow(/attempt 1 of 1 never finished: its lease expired/);
      expect(await h.status()).toBe('dead');
      expect(runs.get('lost')).toBeUndefined();
    });
  });
}
