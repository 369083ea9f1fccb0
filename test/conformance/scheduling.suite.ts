import {
  createSpool,
  defineSchedule,
  defineTask,
  EnqueueError,
  fireId,
  PROTOCOL_VERSION,
  type Schedule,
  type SchedulerPort,
  type ScheduleSpec,
  silentLogger,
} from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { timerName } from '../../lib/client/enqueue.js';
import { fireGroup, fireTemplate } from '../../lib/schedule/fire.js';
import { type BackendFactory, deferred, queueDepth, suffix, useHarness, waitFor } from './harness.js';

/** A task that records when each run started, by task id. */
function recordingTask(name: string, hold?: Promise<void>) {
  const starts = new Map<string, number[]>();
  const task = defineTask({
    name: `${name}.${suffix()}`,
    schema: z.object({ n: z.number() }),
    handler: async (_args, ctx) => {
      starts.set(ctx.taskId, [...(starts.get(ctx.taskId) ?? []), Date.now()]);
      await hold;
    },
  });
  return { task, starts };
}

/** The fire message EventBridge Scheduler sends for `spec` at `at` (or with its placeholder left as is). */
function fireMessage(spec: ScheduleSpec, at: number | undefined) {
  const body =
    at === undefined
      ? fireTemplate(spec)
      : fireTemplate(spec).replace('<aws.scheduler.scheduled-time>', new Date(at).toISOString().replace('.000Z', 'Z'));
  return { body, deduplicationId: `${spec.name}-${at ?? 'unfilled'}-${suffix()}`, groupId: fireGroup(spec.name) };
}

/**
 * App options declaring `schedules` (a worker runs only declared schedules' fires) with a worker
 * that does not fire them itself: the test sends each fire message.
 */
function declared(schedules: readonly Schedule[]) {
  return { schedules, worker: { runSchedules: false } };
}

function schedulerOf(backend: { scheduler?: SchedulerPort }): SchedulerPort {
  if (backend.scheduler === undefined) throw new Error('this backend has no scheduler');
  return backend.scheduler;
}

export function scheduling(factory: BackendFactory) {
  const app = useHarness(factory);

  describe('delays', () => {
    it('GIVEN delaySeconds 2 THEN the run starts after 2 s, at most 1 s late', async () => {
      const { task, starts } = recordingTask('delayed');
      const { spool } = await app([task]);
      const enqueuedAt = Date.now();
      const handle = await spool.enqueue(task, { n: 1 }, { delaySeconds: 2 });
      await handle.result({ timeoutMs: 15_000 });
      const started = starts.get(handle.id)?.[0] ?? 0;
      expect(started - enqueuedAt).toBeGreaterThanOrEqual(2000);
      expect(started - (enqueuedAt + 2000)).toBeLessThanOrEqual(1000);
    });

    it('GIVEN runAt in 1.5 s and runAt in the past THEN the first waits and the second runs at once', async () => {
      const { task, starts } = recordingTask('eta');
      const { spool } = await app([task]);
      const at = Date.now() + 1500;
      const later = await spool.enqueue(task, { n: 1 }, { runAt: new Date(at) });
      const now = await spool.enqueue(task, { n: 2 }, { runAt: Date.now() - 60_000 });
      await now.result({ timeoutMs: 10_000 });
      await later.result({ timeoutMs: 10_000 });
      expect(starts.get(later.id)?.[0]).toBeGreaterThanOrEqual(at);
      expect(starts.get(now.id)?.[0]).toBeLessThan(at);
    });

    it('GIVEN an invalid delay THEN enqueue fails saying what is allowed, and nothing is sent', async () => {
      const { task } = recordingTask('baddelay');
      const { spool } = await app([task], { worker: false });
      const attempts = [
        [{ delaySeconds: -1 }, /delaySeconds is -1; allowed: a number of seconds from 0 to 31536000/],
        [{ delaySeconds: 31_536_001 }, /allowed: a number of seconds from 0 to 31536000 \(one year\)/],
        [{ delaySeconds: 5, runAt: Date.now() + 5000 }, /give delaySeconds or runAt, not both/],
        [{ runAt: Date.now() + 400 * 86_400_000 }, /more than one year ahead/],
        [{ runAt: new Date('nope') }, /runAt is Invalid Date; allowed: a valid Date or epoch milliseconds/],
      ] as const;
      for (const [options, message] of attempts) {
        await expect(spool.enqueue(task, { n: 1 }, options)).rejects.toThrow(message);
        await expect(spool.enqueue(task, { n: 1 }, options)).rejects.toBeInstanceOf(EnqueueError);
      }
      expect(await queueDepth(spool)).toBe(0);
    });

    it('GIVEN a delay over 15 minutes THEN it waits in a one-time schedule that fires the run once', async () => {
      const { task, starts } = recordingTask('longdelay');
      const { spool, backend } = await app([task]);
      // A producer whose clock is 20 minutes behind: a run 3 s from now is 20 minutes away to it,
      // so it goes through a one-time schedule (the local endpoint fires those; this does not wait 20 minutes).
      const producer = createSpool({ backend, tasks: [task], logger: silentLogger, now: () => Date.now() - 1_200_000 });
      const runAt = Date.now() + 3000;
      const handle = await producer.enqueue(task, { n: 1 }, { runAt });
      expect(await queueDepth(spool)).toBe(0);
      await handle.result({ timeoutMs: 45_000 });
      expect(starts.get(handle.id)).toHaveLength(1);
      const started = starts.get(handle.id)?.[0] ?? 0;
      expect(started).toBeGreaterThanOrEqual(runAt);
      expect(started - runAt).toBeLessThanOrEqual(60_000);
      // Fired once and gone: the schedule deleted itself after completion.
      expect(await schedulerOf(backend).cancelOnce(timerName(handle.id))).toBe(false);
    }, 60_000);

    it('GIVEN a long-delayed run WHEN cancelled THEN its one-time schedule is deleted and it never runs', async () => {
      const { task, starts } = recordingTask('cancelled');
      const { spool, backend } = await app([task]);
      const handle = await spool.enqueue(task, { n: 1 }, { delaySeconds: 3600 });
      expect(await handle.cancel()).toBe('cancelled');
      expect(await schedulerOf(backend).cancelOnce(timerName(handle.id))).toBe(false);
      expect(await handle.status()).toBe('cancelled');
      expect(starts.size).toBe(0);
    });

    it('GIVEN a long delay with arguments over 8 KB THEN enqueue fails naming the limit, and nothing is scheduled', async () => {
      const big = defineTask({ name: `big.${suffix()}`, schema: z.object({ s: z.string() }), handler: () => {} });
      const { spool, backend } = await app([big], { worker: false });
      const attempt = spool.enqueue(big, { s: 'x'.repeat(9000) }, { delaySeconds: 3600 });
      await expect(attempt).rejects.toThrow(
        /at most 8192 characters \(EventBridge Scheduler's limit\); this one is \d+/,
      );
      expect(await schedulerOf(backend).list()).toEqual([]);
    });
  });

  describe('schedules', () => {
    it('GIVEN schedules put, paused, updated and removed THEN the scheduler reports each change', async () => {
      const { task } = recordingTask('port');
      const { backend } = await app([task], { worker: false });
      const scheduler = schedulerOf(backend);
      const hourly = defineSchedule({
        name: `hourly-${suffix()}`,
        task,
        args: { n: 1 },
        cron: '0 * * * *',
        timezone: 'Europe/Berlin',
      });
      expect(await scheduler.put(hourly.spec)).toBe('created');
      expect(await scheduler.put(hourly.spec)).toBe('unchanged');
      expect(await scheduler.setState(hourly.name, 'DISABLED')).toBe(true);
      const changed = { ...hourly.spec, args: { n: 2 } };
      expect(await scheduler.put(changed)).toBe('updated');
      const [listed] = await scheduler.list();
      expect(listed).toMatchObject({ spec: changed, state: 'DISABLED' });
      expect(await scheduler.setState('nope', 'ENABLED')).toBe(false);
      expect(await scheduler.remove(hourly.name)).toBe(true);
      expect(await scheduler.remove(hourly.name)).toBe(false);
      expect(await scheduler.list()).toEqual([]);
    });

    it('GIVEN one fire delivered three times (a retry, a second scheduler, an unfilled time) THEN it runs once, under its fire id', async () => {
      const { task, starts } = recordingTask('fire');
      const minutely = defineSchedule({ name: `m-${suffix()}`, task, args: { n: 1 }, every: '1 minute' });
      const { spool } = await app([task], declared([minutely]));
      const at = Date.now() - (Date.now() % 60_000);
      await spool.backend.transport.tasks.send([fireMessage(minutely.spec, at), fireMessage(minutely.spec, at)]);
      // An emulator that does not fill in the time: the latest fire at or before the send time.
      await spool.backend.transport.tasks.send([fireMessage(minutely.spec, undefined)]);
      const id = fireId(minutely.name, at);
      await spool.handle(id).result({ timeoutMs: 10_000 });
      await waitFor(async () => (await queueDepth(spool)) === 0, 10_000, 'the fire messages to be consumed');
      // The unfilled one may land in the next minute when sent right at its turn: then it is that fire.
      const ids = [...starts.keys()];
      expect(starts.get(id)).toHaveLength(1);
      expect(ids.every((i) => i.startsWith(`sched:${minutely.name}:`))).toBe(true);
      expect([...starts.values()].every((runs) => runs.length === 1)).toBe(true);
    });

    it("GIVEN overlap 'skip' WHEN a fire comes while the previous runs THEN it is skipped with the reason; 'allow' runs both", async () => {
      const release = deferred();
      const { task, starts } = recordingTask('overlap', release.promise);
      const skip = defineSchedule({
        name: `skip-${suffix()}`,
        task,
        args: { n: 1 },
        every: '1 minute',
        missedRuns: 'all',
      });
      const allow = defineSchedule({
        name: `allow-${suffix()}`,
        task,
        args: { n: 1 },
        every: '1 minute',
        overlap: 'allow',
        missedRuns: 'all',
      });
      const { spool } = await app([task], declared([skip, allow]));
      const t0 = Date.now() - (Date.now() % 60_000);
      const queue = spool.backend.transport.tasks;
      await queue.send([fireMessage(skip.spec, t0), fireMessage(allow.spec, t0)]);
      await waitFor(() => starts.size === 2, 10_000, 'the first fires to start');
      await queue.send([fireMessage(skip.spec, t0 + 60_000), fireMessage(allow.spec, t0 + 60_000)]);
      const skipped = spool.handle(fireId(skip.name, t0 + 60_000));
      await expect(skipped.result({ timeoutMs: 10_000 })).rejects.toThrow(
        /cancelled: OverlapSkipped: skipped: the schedule's run .* is still running/,
      );
      await waitFor(() => starts.has(fireId(allow.name, t0 + 60_000)), 10_000, "the 'allow' fire to start alongside");
      release.resolve();
      await spool.handle(fireId(skip.name, t0)).result({ timeoutMs: 10_000 });
      expect(starts.has(fireId(skip.name, t0 + 60_000))).toBe(false);
    });

    it("GIVEN fires that come after the next one was due THEN with missedRuns 'latest' only the latest runs; with 'all' every one", async () => {
      const { task, starts } = recordingTask('missed');
      const latest = defineSchedule({ name: `latest-${suffix()}`, task, args: { n: 1 }, every: '1 minute' });
      const all = defineSchedule({
        name: `all-${suffix()}`,
        task,
        args: { n: 1 },
        every: '1 minute',
        missedRuns: 'all',
        overlap: 'allow',
      });
      const { spool } = await app([task], declared([latest, all]));
      const now = Date.now() - (Date.now() % 60_000);
      const times = [now - 180_000, now - 120_000, now - 60_000, now];
      await spool.backend.transport.tasks.send(
        times.flatMap((t) => [fireMessage(latest.spec, t), fireMessage(all.spec, t)]),
      );
      for (const t of times) {
        await spool.handle(fireId(all.name, t)).result({ timeoutMs: 10_000 });
      }
      await spool.handle(fireId(latest.name, now)).result({ timeoutMs: 10_000 });
      const old = spool.handle(fireId(latest.name, now - 120_000));
      await expect(old.result({ timeoutMs: 10_000 })).rejects.toThrow(
        /cancelled: MissedRun: missed: the fire at .* only the latest due fire runs/,
      );
      expect([...starts.keys()].filter((id) => id.includes(latest.name))).toEqual([fireId(latest.name, now)]);
      expect([...starts.keys()].filter((id) => id.includes(all.name))).toHaveLength(4);
    });

    it('GIVEN a malformed fire message THEN it is dead-lettered with the reason and the worker goes on', async () => {
      const { task } = recordingTask('badfire');
      const { spool } = await app([task]);
      const queue = spool.backend.transport.tasks;
      const bad = JSON.stringify({
        spool: PROTOCOL_VERSION,
        fire: { name: 'x', task: task.name, args: {}, cron: '99 * * * *' },
        scheduledTime: 'soon',
      });
      await queue.send([{ body: bad, deduplicationId: `bad-${suffix()}`, groupId: 'g' }]);
      const ok = await spool.enqueue(task, { n: 1 });
      await ok.result({ timeoutMs: 10_000 });
      await waitFor(
        async () => (await spool.backend.transport.deadLetters.stats()).visible === 1,
        10_000,
        'the dead letter',
      );
    });
  });
}
