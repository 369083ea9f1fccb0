import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchedule, defineTask, type ReceivedMessage, silentLogger } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeEnvelope } from '../../lib/protocol/envelope.js';
import { runScheduleTick } from '../../lib/schedule/runner.js';
import { applySync, planSync } from '../../lib/schedule/sync.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const ping = defineTask({ name: 'ping', schema: z.object({ n: z.number() }), handler: () => {} });
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** Two backends (two "processes") on one file, sharing a clock the test moves. */
function twoRunners() {
  const path = join(dir, `r${n++}.db`);
  let now = T0;
  const clock = () => now;
  const a = openEmbeddedBackend({ path, now: clock });
  const b = openEmbeddedBackend({ path, now: clock });
  const tick = (backend: typeof a) =>
    runScheduleTick(
      { scheduler: backend.scheduler, queue: backend.transport.tasks, logger: silentLogger, now: clock },
      new Set(),
    );
  const drain = async (): Promise<string[]> => {
    const ids: string[] = [];
    for (;;) {
      const got: ReceivedMessage[] = await a.transport.tasks.receive({
        maxMessages: 10,
        visibilityTimeoutSeconds: 60,
        waitTimeSeconds: 0,
      });
      if (got.length === 0) return ids.sort();
      for (const m of got) {
        const d = decodeEnvelope(m.body);
        if (d.ok) ids.push(d.envelope.id);
      }
      await a.transport.tasks.delete(got.map((m) => m.receiptHandle));
    }
  };
  return {
    a,
    b,
    tick,
    drain,
    advance: (ms: number) => {
      now += ms;
    },
    close: () => {
      a.close();
      b.close();
    },
  };
}

describe('the in-process schedule runner (embedded)', () => {
  it('GIVEN two runners on one file ticking at every fire THEN each fire is sent once, with its deterministic id', async () => {
    const r = twoRunners();
    const beat = defineSchedule({ name: 'beat', task: ping, args: { n: 1 }, every: '1 second' });
    await r.a.scheduler.put(beat.spec);
    for (let i = 0; i < 5; i++) {
      r.advance(1000);
      await Promise.all([r.tick(r.a), r.tick(r.b)]);
    }
    expect(await r.drain()).toEqual([1, 2, 3, 4, 5].map((s) => `sched:beat:${new Date(T0 + s * 1000).toISOString()}`));
    r.close();
  });

  it("GIVEN runners stopped for 10 minutes THEN missedRuns 'latest' sends the latest fire once and 'all' every one", async () => {
    const r = twoRunners();
    const latest = defineSchedule({ name: 'latest', task: ping, args: { n: 1 }, every: '1 minute' });
    const all = defineSchedule({ name: 'all', task: ping, args: { n: 1 }, every: '1 minute', missedRuns: 'all' });
    await r.a.scheduler.put(latest.spec);
    await r.a.scheduler.put(all.spec);
    r.advance(600_000 + 30_000);
    await r.tick(r.a);
    await r.tick(r.b);
    const ids = await r.drain();
    expect(ids.filter((id) => id.startsWith('sched:latest:'))).toEqual([`sched:latest:2026-11-22T10:10:00.000Z`]);
    expect(ids.filter((id) => id.startsWith('sched:all:'))).toHaveLength(10);
    r.close();
  });

  it('GIVEN a paused schedule THEN it does not fire, and on resume the fires missed while paused are not caught up', async () => {
    const r = twoRunners();
    const beat = defineSchedule({ name: 'beat', task: ping, args: { n: 1 }, every: '1 minute', missedRuns: 'all' });
    await r.a.scheduler.put(beat.spec);
    await r.a.scheduler.setState('beat', 'DISABLED');
    r.advance(300_000);
    await r.tick(r.a);
    expect(await r.drain()).toEqual([]);
    await r.b.scheduler.setState('beat', 'ENABLED');
    r.advance(60_000);
    await r.tick(r.b);
    expect(await r.drain()).toEqual(['sched:beat:2026-11-22T10:06:00.000Z']);
    r.close();
  });

  it('GIVEN a due one-time timer THEN one tick sends it once and it is gone', async () => {
    const r = twoRunners();
    const message = { body: '{"x":1}', deduplicationId: 'd1', groupId: 'g1' };
    expect(await r.a.scheduler.scheduleOnce({ name: 'delay.x', at: T0 + 5000, message })).toBe('created');
    expect(await r.b.scheduler.scheduleOnce({ name: 'delay.x', at: T0 + 9000, message })).toBe('exists');
    await r.tick(r.a);
    expect((await r.a.transport.tasks.stats()).visible).toBe(0);
    r.advance(5000);
    await Promise.all([r.tick(r.a), r.tick(r.b)]);
    expect((await r.a.transport.tasks.stats()).visible).toBe(1);
    expect(await r.a.scheduler.cancelOnce('delay.x')).toBe(false);
    r.close();
  });
});

describe('schedules sync', () => {
  it('GIVEN code and deployed schedules THEN sync creates, updates and deletes to match, and a second sync changes nothing', async () => {
    const r = twoRunners();
    const scheduler = r.a.scheduler;
    const keep = defineSchedule({ name: 'keep', task: ping, args: { n: 1 }, cron: '0 2 * * *' });
    const change = defineSchedule({ name: 'change', task: ping, args: { n: 1 }, every: '5 minutes' });
    const gone = defineSchedule({ name: 'gone', task: ping, args: { n: 1 }, every: '1 hour' });
    for (const s of [keep, change, gone]) await scheduler.put(s.spec);
    await scheduler.setState('change', 'DISABLED');
    const changed = defineSchedule({ name: 'change', task: ping, args: { n: 2 }, every: '5 minutes' });
    const added = defineSchedule({ name: 'added', task: ping, args: { n: 1 }, every: '1 day' });
    const code = [keep, changed, added];
    const plan = planSync(code, await scheduler.list(), scheduler);
    expect(plan.create.map((s) => s.name)).toEqual(['added']);
    expect(plan.update.map((u) => u.to.name)).toEqual(['change']);
    expect(plan.remove.map((s) => s.name)).toEqual(['gone']);
    expect(plan.unchanged).toEqual(['keep']);
    await applySync(scheduler, plan);
    const after = await scheduler.list();
    expect(after.map((d) => [d.spec.name, d.state])).toEqual([
      ['added', 'ENABLED'],
      ['change', 'DISABLED'], // a paused schedule stays paused
      ['keep', 'ENABLED'],
    ]);
    const again = planSync(code, after, scheduler);
    expect([again.create, again.update, again.remove].map((l) => l.length)).toEqual([0, 0, 0]);
    r.close();
  });
});

describe('defineSchedule', () => {
  it('GIVEN bad definitions THEN each error says what is allowed', () => {
    const bad = (extra: Record<string, unknown>) => () =>
      defineSchedule({ name: 'ok', task: ping, args: { n: 1 }, every: '1 minute', ...extra } as never);
    expect(bad({ name: 'has space' })).toThrow(/name is "has space"; allowed: 1–64 characters of \[A-Za-z0-9_-\]/);
    expect(bad({ name: 'delay.x' })).toThrow(/allowed: 1–64 characters/);
    expect(bad({ overlap: 'queue' })).toThrow(/overlap is "queue"; allowed: 'skip' or 'allow'/);
    expect(bad({ missedRuns: 'none' })).toThrow(/missedRuns is "none"; allowed: 'latest' or 'all'/);
    expect(bad({ task: {} })).toThrow(/task is not a task made by defineTask/);
    const single = defineTask({ name: 'single', schema: z.object({}), singleton: true, handler: () => {} });
    expect(() => defineSchedule({ name: 's', task: single, args: {}, every: '1 minute' })).toThrow(
      /task 'single' is a singleton.*Use overlap: 'allow'/,
    );
    // @ts-expect-error wrong arguments for the task are a compile error
    defineSchedule({ name: 'typed', task: ping, args: { n: 'one' }, every: '1 minute' });
  });
});
