import { defineSchedule, defineTask, type Spool } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, suffix, useHarness, waitFor, waitForDeadLetters } from './harness.js';

/**
 * What a sender that may only send to the task queue can and cannot do (docs/protocol.md, "What
 * `sqs:SendMessage` on the task queue allows"): every forgery here must leave the victim's run as
 * its own message made it.
 */
export function security(factory: BackendFactory) {
  const app = useHarness(factory);

  /** Send a raw body as an attacker would: its own group, its own deduplication id. */
  const forge = (spool: Spool, body: Record<string, unknown>) =>
    spool.backend.transport.tasks.send([
      { body: JSON.stringify({ spool: 1, ...body }), deduplicationId: `forged-${suffix()}`, groupId: `g-${suffix()}` },
    ]);

  /** A charge task whose first attempt fails (retried after ~1.5 s), recording every call's arguments. */
  const chargeTask = (calls: { orderId: string; amountCents: number }[]) =>
    defineTask({
      name: `orders.charge.${suffix()}`,
      schema: z.object({ orderId: z.string(), amountCents: z.number() }),
      idempotencyKey: (args) => args.orderId,
      retry: { maxAttempts: 3, minDelayMs: 1500, maxDelayMs: 1500 },
      handler: (args) => {
        calls.push(args);
        if (calls.length === 1) throw new Error('payment provider timed out');
        return { charged: args.amountCents };
      },
    });

  /** Enqueue the victim's charge and wait until its first attempt failed and it is retrying. */
  const retryingVictim = async (spool: Spool, task: ReturnType<typeof chargeTask>) => {
    const victim = await spool.enqueue(task, { orderId: 'o-7', amountCents: 2599 });
    await waitFor(async () => (await victim.status()) === 'retrying', 10_000, 'the victim retrying');
    return victim;
  };

  describe('security: a message binds its run; forged metadata is refused', () => {
    it('GIVEN a retrying run WHEN a message with its id and other arguments arrives in another group THEN it is refused as a conflicting duplicate and the run ends with its own arguments', async () => {
      const calls: { orderId: string; amountCents: number }[] = [];
      const task = chargeTask(calls);
      const { spool } = await app([task]);
      const victim = await retryingVictim(spool, task);
      await forge(spool, { id: victim.id, task: task.name, args: { orderId: 'o-7', amountCents: 1 } });
      const [dead] = await waitForDeadLetters(spool, 1);
      expect(dead?.errorName).toBe('ConflictingDuplicate');
      expect(dead?.taskId).toBe(victim.id);
      expect(dead?.reason).toMatch(/other arguments than the run's first claim ran .*it was not run/);
      expect(await victim.result({ timeoutMs: 15_000 })).toEqual({ charged: 2599 });
      expect(calls.map((c) => c.amountCents)).toEqual([2599, 2599]);
    });

    it('GIVEN a run WHEN a copy with the same arguments but another enqueuer arrives THEN it is refused, and the run records its own enqueuer', async () => {
      const calls: { orderId: string; amountCents: number }[] = [];
      const task = chargeTask(calls);
      const { spool } = await app([task]);
      const victim = await spool.enqueue(
        task,
        { orderId: 'o-8', amountCents: 700 },
        { enqueuedBy: 'arn:aws:iam::1:role/shop' },
      );
      await waitFor(async () => (await victim.status()) === 'retrying', 10_000, 'the victim retrying');
      await forge(spool, {
        id: victim.id,
        task: task.name,
        args: { orderId: 'o-8', amountCents: 700 },
        enqueuedBy: 'arn:aws:iam::1:role/evil',
      });
      const [dead] = await waitForDeadLetters(spool, 1);
      expect(dead?.errorName).toBe('ConflictingDuplicate');
      expect(dead?.reason).toContain('another enqueuer ("arn:aws:iam::1:role/evil"');
      await victim.result({ timeoutMs: 15_000 });
      expect((await victim.info())?.enqueuedBy).toBe('arn:aws:iam::1:role/shop');
    });

    it('GIVEN the same arguments under the same id in two groups THEN the run runs once and the second copy is acknowledged, not refused', async () => {
      let calls = 0;
      const task = defineTask({
        name: `twice.${suffix()}`,
        schema: z.object({ n: z.number() }),
        handler: () => ++calls,
      });
      const { spool } = await app([task]);
      const id = `same-${suffix()}`;
      const body = JSON.stringify({ spool: 1, id, task: task.name, args: { n: 1 } });
      const queue = spool.backend.transport.tasks;
      await queue.send([{ body, deduplicationId: id, groupId: `a-${id}` }]);
      expect(await spool.handle(id).result({ timeoutMs: 10_000 })).toBe(1);
      // Within the deduplication window, in another group: delivered, and found finished.
      await queue.send([{ body, deduplicationId: id, groupId: `b-${id}` }]);
      await waitFor(
        async () => {
          const s = await queue.stats();
          return s.visible + s.inFlight === 0;
        },
        10_000,
        'the second copy acknowledged',
      );
      expect(calls).toBe(1);
      expect(await spool.backend.transport.deadLetters.stats()).toMatchObject({ visible: 0 });
    });

    it('GIVEN a bound run WHEN an unreadable message names its id THEN it is dead-lettered as malformed and the run is left alone', async () => {
      const calls: { orderId: string; amountCents: number }[] = [];
      const task = chargeTask(calls);
      const { spool } = await app([task]);
      const victim = await retryingVictim(spool, task);
      await forge(spool, { id: victim.id, task: task.name }); // no "args"
      await forge(spool, { id: victim.id, task: 'no.such.task', args: {} });
      const dead = await waitForDeadLetters(spool, 2);
      expect(dead.map((d) => d.errorName).sort()).toEqual(['MalformedMessage', 'UnknownTask']);
      expect(await victim.result({ timeoutMs: 15_000 })).toEqual({ charged: 2599 });
    });

    it('GIVEN a retrying run WHEN a message with its id carries a forged schedule field THEN it is refused and the run is not cancelled', async () => {
      const calls: { orderId: string; amountCents: number }[] = [];
      const task = chargeTask(calls);
      const declared = defineSchedule({
        name: `nightly-${suffix()}`,
        task,
        args: { orderId: 'n', amountCents: 0 },
        cron: '0 3 * * *',
      });
      const { spool, clock } = await app([task], { schedules: [declared] });
      const victim = await retryingVictim(spool, task);
      const longAgo = new Date(clock.now() - 3 * 86_400_000).toISOString();
      const fire = { at: longAgo, every: '1m', missedRuns: 'latest' };
      await forge(spool, {
        id: victim.id,
        task: task.name,
        args: { orderId: 'o-7', amountCents: 2599 },
        schedule: { name: 'ghost', ...fire },
      });
      await forge(spool, {
        id: victim.id,
        task: task.name,
        args: { orderId: 'o-7', amountCents: 2599 },
        schedule: { name: declared.name, ...fire },
      });
      const dead = await waitForDeadLetters(spool, 2);
      const reasons = dead.map((d) => d.reason).sort();
      expect(reasons[0]).toMatch(/"schedule" names "ghost", which this app does not declare/);
      expect(reasons[1]).toMatch(/whose id is sched:.*but the message's id is /);
      expect(dead.every((d) => d.errorName === 'MalformedMessage')).toBe(true);
      expect(await victim.result({ timeoutMs: 15_000 })).toEqual({ charged: 2599 });
    });

    it("GIVEN fire messages THEN only a declared schedule fires, with its declared task and arguments, never the message's", async () => {
      const seen: unknown[] = [];
      const task = defineTask({
        name: `report.${suffix()}`,
        schema: z.object({ window: z.string() }),
        handler: (args) => void seen.push(args),
      });
      const other = defineTask({
        name: `expensive.${suffix()}`,
        schema: z.unknown(),
        handler: () => void seen.push('expensive'),
      });
      // A schedule the worker's own runner will not fire during the test (it fires at 03:00 only
      // when that hour comes while the test runs: the assertions hold then too).
      const declared = defineSchedule({
        name: `report-${suffix()}`,
        task,
        args: { window: 'daily' },
        cron: '0 3 * * *',
      });
      const { spool, clock } = await app([task, other], { schedules: [declared] });
      const at = new Date(clock.now()).toISOString();
      await forge(spool, { fire: { name: 'ghost', task: other.name, args: {}, every: '1m' }, scheduledTime: at });
      await forge(spool, {
        fire: { name: declared.name, task: other.name, args: { window: 'all-time' }, every: '1m' },
        scheduledTime: at,
      });
      const [dead] = await waitForDeadLetters(spool, 1);
      expect(dead?.errorName).toBe('MalformedMessage');
      expect(dead?.reason).toMatch(/fire message for schedule "ghost", which this app does not declare/);
      await waitFor(() => seen.length > 0, 10_000, 'the declared fire');
      expect(seen).not.toContain('expensive');
      expect(seen.every((args) => JSON.stringify(args) === '{"window":"daily"}')).toBe(true);
    });

    it("GIVEN a unique key outside the task's namespace, or a start far ahead THEN the message is refused and never runs", async () => {
      let calls = 0;
      const task = defineTask({ name: `plain.${suffix()}`, schema: z.object({}), handler: () => void calls++ });
      const { spool, clock } = await app([task]);
      await forge(spool, { id: `u-${suffix()}`, task: task.name, args: {}, unique: 'billing.refund:order-9' });
      const farAhead = new Date(clock.now() + 2 * 86_400_000).toISOString();
      await forge(spool, { id: `t-${suffix()}`, task: task.name, args: {}, notBefore: farAhead });
      const dead = await waitForDeadLetters(spool, 2);
      const reasons = dead.map((d) => d.reason).sort();
      expect(reasons[0]).toMatch(/"notBefore" is .*more than 75 minutes ahead/);
      expect(reasons[1]).toMatch(
        new RegExp(
          `"unique" is "billing.refund:order-9"; a run of '${task.name}' may only hold unique keys that start with`,
        ),
      );
      expect(calls).toBe(0);
    });
  });

  describe('security: deduplication is per message group, as on the deployed queue', () => {
    it('GIVEN one deduplication id sent in two groups and twice in one THEN the queue keeps one copy per group', async () => {
      const { spool } = await app([], { worker: false });
      const queue = spool.backend.transport.tasks;
      const id = `dd-${suffix()}`;
      const message = (group: string) => ({ body: JSON.stringify({ group }), deduplicationId: id, groupId: group });
      await queue.send([message(`a-${id}`), message(`b-${id}`)]);
      await queue.send([message(`a-${id}`)]);
      const bodies: string[] = [];
      await waitFor(
        async () => {
          for (const m of await queue.receive({ maxMessages: 10, waitTimeSeconds: 1, visibilityTimeoutSeconds: 60 })) {
            bodies.push(m.body);
          }
          return bodies.length >= 2;
        },
        10_000,
        'two copies',
      );
      // Another receive finds nothing more: the second send to group a was dropped.
      const more = await queue.receive({ maxMessages: 10, waitTimeSeconds: 1, visibilityTimeoutSeconds: 60 });
      expect([...bodies, ...more.map((m) => m.body)].sort()).toEqual([
        JSON.stringify({ group: `a-${id}` }),
        JSON.stringify({ group: `b-${id}` }),
      ]);
    });
  });
}
