import { DEFAULT_MAX_ARGUMENT_BYTES, defineTask, EnqueueError, MAX_RESULT_BYTES, type Spool } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, queueDepth, suffix, useHarness, waitFor, waitForDeadLetters } from './harness.js';

export function badInput(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('bad input loses nothing', () => {
    const healthy = (ran: Set<number>) =>
      defineTask({
        name: `healthy.${suffix()}`,
        schema: z.object({ i: z.number() }),
        handler: ({ i }) => void ran.add(i),
      });

    const send = (spool: Spool, body: string, id = suffix()) =>
      spool.backend.transport.tasks.send([{ body, deduplicationId: `raw-${id}`, groupId: `raw-${id}` }]);

    it('GIVEN a message that is not JSON THEN it is dead-lettered with the reason and the worker keeps running', async () => {
      const ran = new Set<number>();
      const t = healthy(ran);
      const { spool } = await app([t]);
      await send(spool, 'this is { not json');
      const h = await spool.enqueue(t, { i: 1 });
      await h.result({ timeoutMs: 10_000 });
      const dead = await waitForDeadLetters(spool, 1);
      expect(dead[0]?.errorName).toBe('MalformedMessage');
      expect(dead[0]?.reason).toMatch(/message body is not JSON .* body starts "this is \{ not json"/);
      expect(dead[0]?.preview).toBe('this is { not json');
      // Acknowledgements go out in batches, shortly after the run ends.
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000, 'message acknowledged');
    });

    it('GIVEN JSON that is not a spool envelope THEN the reason names the field', async () => {
      const { spool } = await app([]);
      await send(spool, JSON.stringify({ spool: 1, id: `a${suffix()}`, args: {} }));
      await send(spool, JSON.stringify({ spool: 7, id: `b${suffix()}`, task: 'x', args: {} }));
      const dead = await waitForDeadLetters(spool, 2);
      const reasons = dead.map((d) => d.reason).sort();
      expect(reasons[0]).toMatch(/"task" is missing/);
      expect(reasons[1]).toMatch(/unsupported protocol version: "spool" is 7/);
    });

    it('GIVEN an unknown task THEN the run is dead with a reason listing the known tasks', async () => {
      const ran = new Set<number>();
      const t = healthy(ran);
      const { spool } = await app([t]);
      const id = `unknown${suffix()}`;
      await send(spool, JSON.stringify({ spool: 1, id, task: 'no.such.task', args: {} }));
      const h = spool.handle(id);
      await expect(h.result({ timeoutMs: 10_000 })).rejects.toThrow(
        /unknown task 'no\.such\.task'; this worker runs: healthy\./,
      );
      expect(await h.status()).toBe('dead');
      await (await spool.enqueue(t, { i: 2 })).result({ timeoutMs: 10_000 });
      expect(ran.has(2)).toBe(true);
    });

    it('GIVEN arguments that fail the schema at run THEN the run fails (not retried) with the validation message', async () => {
      let calls = 0;
      const t = defineTask({
        name: `typed.${suffix()}`,
        schema: z.object({ email: z.email() }),
        retry: { maxAttempts: 5, minDelayMs: 0 },
        handler: () => void calls++,
      });
      const { spool } = await app([t]);
      const id = `badargs${suffix()}`;
      await send(spool, JSON.stringify({ spool: 1, id, task: t.name, args: { email: 'not-an-email' } }));
      const h = spool.handle(id);
      await expect(h.result({ timeoutMs: 10_000 })).rejects.toThrow(
        /ended failed: ValidationError: Invalid arguments for task '.*' at run: email: /,
      );
      expect(calls).toBe(0);
      expect((await h.info())?.attempt).toBe(1);
    });

    it('GIVEN arguments over the default maximum (32 MiB) WHEN enqueued THEN EnqueueError gives the size, the limit and the option, and nothing is sent', async () => {
      const t = defineTask({ name: `big.${suffix()}`, schema: z.object({ blob: z.string() }), handler: () => 1 });
      const { spool } = await app([t], { worker: false });
      const attempt = spool.enqueue(t, { blob: 'x'.repeat(DEFAULT_MAX_ARGUMENT_BYTES) });
      await expect(attempt).rejects.toBeInstanceOf(EnqueueError);
      await expect(attempt).rejects.toThrow(
        /the arguments are 33554443 bytes as JSON; the limit is 33554432 bytes \(the maxArgumentBytes option .*Nothing was enqueued/,
      );
      expect(await queueDepth(spool)).toBe(0);
    });

    it('GIVEN arguments that are not JSON (a bigint) WHEN enqueued THEN EnqueueError names the path', async () => {
      const t = defineTask({ name: `bigint.${suffix()}`, schema: z.object({ n: z.unknown() }), handler: () => 1 });
      const { spool } = await app([t], { worker: false });
      await expect(spool.enqueue(t, { n: 10n })).rejects.toThrow(/\$\.n is bigint/);
    });

    it('GIVEN a result too large to store THEN the run fails with a clear reason', async () => {
      const t = defineTask({
        name: `hugeresult.${suffix()}`,
        schema: z.object({}),
        handler: () => 'y'.repeat(MAX_RESULT_BYTES),
      });
      const { spool } = await app([t]);
      await expect((await spool.enqueue(t, {})).result({ timeoutMs: 10_000 })).rejects.toThrow(
        /ResultTooLarge: the result is 33554434 bytes as JSON; at most 33554432 are stored/,
      );
    });
  });
}
