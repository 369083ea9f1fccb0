import { defineTask } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, deferred, suffix, useHarness, waitFor } from './harness.js';

export function locks(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('unique and singleton', () => {
    it('GIVEN a unique task queued WHEN enqueued again with other arguments THEN the existing handle comes back', async () => {
      const ran: string[] = [];
      const report = defineTask({
        name: `report.${suffix()}`,
        schema: z.object({ account: z.string(), requestedBy: z.string() }),
        unique: { key: (a) => a.account, ttlSeconds: 60 },
        handler: ({ requestedBy }) => void ran.push(requestedBy),
      });
      const { spool, startWorker } = await app([report], { worker: false });
      const first = await spool.enqueue(report, { account: 'acme', requestedBy: 'ann' });
      const second = await spool.enqueue(report, { account: 'acme', requestedBy: 'bob' });
      expect(first.existing).toBe(false);
      expect(second.existing).toBe(true);
      expect(second.id).toBe(first.id);
      const other = await spool.enqueue(report, { account: 'globex', requestedBy: 'cy' });
      expect(other.id).not.toBe(first.id);
      await startWorker();
      await first.result({ timeoutMs: 10_000 });
      await other.result({ timeoutMs: 10_000 });
      expect(ran.sort()).toEqual(['ann', 'cy']);
      // Once the run has ended the lock is free again.
      const third = await spool.enqueue(report, { account: 'acme', requestedBy: 'dee' });
      expect(third.existing).toBe(false);
      await third.result({ timeoutMs: 10_000 });
      expect(ran).toContain('dee');
    });

    it('GIVEN a unique task running WHEN enqueued again THEN the running handle comes back', async () => {
      const release = deferred();
      const started = deferred();
      const t = defineTask({
        name: `uniquerun.${suffix()}`,
        schema: z.object({ n: z.number() }),
        unique: { key: () => 'only', ttlSeconds: 60 },
        handler: async () => {
          started.resolve();
          await release.promise;
        },
      });
      const { spool } = await app([t]);
      const first = await spool.enqueue(t, { n: 1 });
      await started.promise;
      const second = await spool.enqueue(t, { n: 2 });
      expect(second.existing).toBe(true);
      expect(second.id).toBe(first.id);
      release.resolve();
      await first.result({ timeoutMs: 10_000 });
    });

    it('GIVEN a unique lock whose ttl passed THEN a new run may be enqueued', async () => {
      const t = defineTask({
        name: `uniquettl.${suffix()}`,
        schema: z.object({ n: z.number() }),
        unique: { key: () => 'k', ttlSeconds: 5 },
        handler: () => 1,
      });
      const { spool, clock } = await app([t], { worker: false });
      const first = await spool.enqueue(t, { n: 1 });
      clock.advance(6000);
      const second = await spool.enqueue(t, { n: 2 });
      expect(second.existing).toBe(false);
      expect(second.id).not.toBe(first.id);
    });

    it('GIVEN a singleton task WHEN many runs are queued THEN at most one runs at a time and all complete', async () => {
      let running = 0;
      let maxRunning = 0;
      const t = defineTask({
        name: `single.${suffix()}`,
        schema: z.object({ i: z.number() }),
        singleton: true,
        leaseSeconds: 2,
        async handler() {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, 150));
          running--;
        },
      });
      const { spool, startWorker } = await app([t], { worker: { concurrency: 5 } });
      await startWorker({ concurrency: 5 });
      const handles = await spool.enqueueMany(
        t,
        [0, 1, 2, 3].map((i) => ({ i })),
      );
      await Promise.all(handles.map((h) => h.result({ timeoutMs: 30_000 })));
      expect(maxRunning).toBe(1);
    });

    it('GIVEN a keyed singleton THEN runs with different keys run in parallel', async () => {
      let running = 0;
      let maxRunning = 0;
      const both = deferred();
      const t = defineTask({
        name: `keyed.${suffix()}`,
        schema: z.object({ user: z.string() }),
        singleton: { key: (a) => a.user },
        async handler() {
          running++;
          maxRunning = Math.max(maxRunning, running);
          if (running === 2) both.resolve();
          await Promise.race([both.promise, new Promise((r) => setTimeout(r, 3000))]);
          running--;
        },
      });
      const { spool } = await app([t], { worker: { concurrency: 4 } });
      const hs = await spool.enqueueMany(t, [{ user: 'a' }, { user: 'b' }]);
      await Promise.all(hs.map((h) => h.result({ timeoutMs: 10_000 })));
      expect(maxRunning).toBe(2);
      await waitFor(() => running === 0);
    });
  });
}
