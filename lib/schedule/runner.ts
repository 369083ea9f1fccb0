/**
 * The in-process schedule runner: what EventBridge Scheduler does on AWS, done by spool's own
 * workers for backends whose scheduler port has `firing: 'in-process'` (the embedded runtime).
 *
 * Every worker runs one; any number may run at once. Each tick it sends the timers that are due
 * and, for each enabled schedule, the fires that came due since the schedule's last recorded
 * fire. Two runners that send the same fire send the same fire id, so the queue's deduplication
 * and the store's claim make it run once; the last fire is recorded after sending (a crash in
 * between sends it again, harmlessly).
 *
 * Missed fires (the runner was stopped): with `missedRuns: 'latest'` only the latest due fire is
 * sent; with `'all'`, every one, up to the last {@link MAX_CATCH_UP}.
 *
 * @module
 */

import type { DeployedSchedule, SchedulerPort } from '../backend/scheduler.js';
import type { Queue } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import { sleep } from '../worker/sleep.js';
import { triggerOf } from './define.js';
import { fireRun } from './fire.js';
import { latestFire, nextFire, type Trigger } from './trigger.js';

/** Most missed fires one schedule catches up at once (`missedRuns: 'all'`). */
export const MAX_CATCH_UP = 1000;

/** Options of {@link startScheduleRunner}. */
export interface ScheduleRunnerOptions {
  readonly scheduler: SchedulerPort;
  readonly queue: Queue;
  readonly logger: Logger;
  readonly now: () => number;
  /** Longest sleep between ticks, ms: how soon a pause, resume or sync elsewhere is seen. @default 1000 */
  readonly maxSleepMs?: number;
}

/** A running schedule runner. */
export interface ScheduleRunner {
  /** Run one tick now; resolves when the next fire is due (epoch ms; `Infinity` for none). */
  tick(): Promise<number>;
  /** Stop ticking; resolves when the tick in progress is done. */
  stop(): Promise<void>;
}

/** The fires of a schedule due in (`since`, `now`], oldest first, as its missed-runs policy allows. */
export function dueFires(trigger: Trigger, schedule: DeployedSchedule, since: number, now: number): number[] {
  const latest = latestFire(trigger, now);
  if (latest === undefined || latest <= since) return [];
  if (schedule.spec.missedRuns !== 'all') return [latest];
  const fires: number[] = [];
  for (let t: number | undefined = latest; t !== undefined && t > since && fires.length < MAX_CATCH_UP; ) {
    fires.push(t);
    t = latestFire(trigger, t - 1);
  }
  return fires.reverse();
}

/** Run one tick: send due timers and fires. Resolves when the next fire is due (epoch ms). */
export async function runScheduleTick(options: ScheduleRunnerOptions, broken: Set<string>): Promise<number> {
  const { scheduler, queue, logger } = options;
  const now = options.now();
  await scheduler.releaseDue?.(now);
  let nextDue = Number.POSITIVE_INFINITY;
  for (const schedule of await scheduler.list()) {
    if (schedule.state !== 'ENABLED') continue;
    const { name } = schedule.spec;
    let trigger: Trigger;
    try {
      trigger = triggerOf(schedule.spec);
    } catch (error) {
      if (!broken.has(name)) logger.error('schedule cannot fire; fix it and sync again', { schedule: name, error });
      broken.add(name);
      continue;
    }
    broken.delete(name);
    const since = schedule.lastFireAt ?? schedule.updatedAt ?? now;
    const fires = dueFires(trigger, schedule, since, now);
    if (fires.length > 0) {
      await queue.send(fires.map((at) => fireRun(schedule.spec, at)));
      await scheduler.recordFire?.(name, fires[fires.length - 1] as number);
      logger.debug('schedule fired', { schedule: name, fires: fires.map((at) => new Date(at).toISOString()) });
    }
    nextDue = Math.min(nextDue, nextFire(trigger, now) ?? Number.POSITIVE_INFINITY);
  }
  return nextDue;
}

/** Start a runner that ticks until stopped. Errors of a tick are logged and the next tick tries again. */
export function startScheduleRunner(options: ScheduleRunnerOptions): ScheduleRunner {
  const maxSleepMs = options.maxSleepMs ?? 1000;
  const broken = new Set<string>();
  const stopping = new AbortController();
  let current: Promise<number> = Promise.resolve(Number.POSITIVE_INFINITY);
  const tick = () => {
    current = runScheduleTick(options, broken);
    return current;
  };
  const loop = async () => {
    while (!stopping.signal.aborted) {
      let nextDue = Number.POSITIVE_INFINITY;
      try {
        nextDue = await tick();
      } catch (error) {
        options.logger.error('schedule runner tick failed; trying again', { error });
      }
      if (stopping.signal.aborted) break;
      await sleep(Math.max(5, Math.min(maxSleepMs, nextDue - options.now())), stopping.signal);
    }
  };
  const done = loop();
  return {
    tick,
    async stop() {
      stopping.abort();
      await done;
      await current.catch(() => undefined);
    },
  };
}
