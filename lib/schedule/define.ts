/**
 * `defineSchedule`: a recurring schedule declared in code — which task, with which arguments,
 * when, and what happens to overlapping and missed runs.
 *
 * @module
 */

import { canonicalJson } from '../protocol/canonical.js';
import { SCHEDULE_NAME_FORMAT, SCHEDULE_NAME_PATTERN } from '../protocol/ids.js';
import type { AnyTask, TaskArgs } from '../task/define.js';
import { ConfigurationError } from '../task/errors.js';
import { describeTrigger, makeTrigger, type Trigger } from './trigger.js';

/** What to do with a fire while the previous run of the same schedule is still running. */
export type OverlapPolicy = 'skip' | 'allow';
/** What to do with fires missed while nothing ran them (workers stopped, or far behind). */
export type MissedRunsPolicy = 'latest' | 'all';

/** A definition, as {@link defineSchedule} takes it. */
export interface ScheduleDefinition<T extends AnyTask> {
  /**
   * Unique within the app: 1–64 characters of `[A-Za-z0-9_-]`, starting with a letter or digit
   * (`SCHEDULE_NAME_FORMAT`; it is also the EventBridge Scheduler schedule's name).
   */
  readonly name: string;
  /** The task each fire runs. */
  readonly task: T;
  /** Its arguments, the same for every fire (type-checked against the task's schema). */
  readonly args: TaskArgs<T>;
  /** Five-field cron, evaluated in `timezone` (daylight saving as EventBridge Scheduler does it). */
  readonly cron?: string;
  /** IANA time zone of `cron`. @default 'UTC' */
  readonly timezone?: string;
  /** A fixed rate instead of `cron`: `'30 seconds'`, `'5 minutes'`, `'1 hour'`, `'1 day'`. */
  readonly every?: string;
  /**
   * `'skip'`: a fire that comes while the previous run is still running is skipped (recorded
   * as cancelled, with the reason). `'allow'`: it runs alongside.
   * @default 'skip'
   */
  readonly overlap?: OverlapPolicy;
  /**
   * `'latest'`: of the fires missed while workers were stopped (or too far behind to start a
   * fire before the next one was due), only the latest runs, once. `'all'`: every missed fire
   * runs (on the embedded runtime, at most the last 1000).
   * @default 'latest'
   */
  readonly missedRuns?: MissedRunsPolicy;
  /** Shown by `spool schedules list` and on the AWS schedule. */
  readonly description?: string;
}

/**
 * The plain-JSON form of a schedule: what is deployed (EventBridge Scheduler's target input, or
 * a row of the embedded runtime's `schedules` table) and compared by `spool schedules sync`.
 */
export interface ScheduleSpec {
  readonly name: string;
  readonly task: string;
  readonly args: unknown;
  readonly cron?: string;
  readonly timezone?: string;
  readonly every?: string;
  readonly overlap: OverlapPolicy;
  readonly missedRuns: MissedRunsPolicy;
  readonly description?: string;
}

/** A defined schedule. Register it with `createSpool({ schedules })`. */
export interface Schedule {
  readonly name: string;
  readonly task: AnyTask;
  readonly trigger: Trigger;
  readonly spec: ScheduleSpec;
}

/**
 * Define a recurring schedule.
 *
 * @example
 * ```ts
 * export const nightlyReport = defineSchedule({
 *   name: 'nightly-report',
 *   task: buildReport,
 *   args: { kind: 'daily' },
 *   cron: '0 2 * * *',
 *   timezone: 'Europe/Berlin',
 * });
 * ```
 */
export function defineSchedule<T extends AnyTask>(definition: ScheduleDefinition<T>): Schedule {
  const where = `defineSchedule '${String(definition.name)}'`;
  if (typeof definition.name !== 'string' || !SCHEDULE_NAME_PATTERN.test(definition.name)) {
    throw new ConfigurationError(
      `defineSchedule: name is ${JSON.stringify(definition.name)}; allowed: ${SCHEDULE_NAME_FORMAT}.`,
    );
  }
  if (typeof definition.task?.name !== 'string' || typeof definition.task.handler !== 'function') {
    throw new ConfigurationError(`${where}: task is not a task made by defineTask.`);
  }
  const overlap = definition.overlap ?? 'skip';
  const missedRuns = definition.missedRuns ?? 'latest';
  if (overlap !== 'skip' && overlap !== 'allow') {
    throw new ConfigurationError(`${where}: overlap is ${JSON.stringify(overlap)}; allowed: 'skip' or 'allow'.`);
  }
  if (missedRuns !== 'latest' && missedRuns !== 'all') {
    throw new ConfigurationError(`${where}: missedRuns is ${JSON.stringify(missedRuns)}; allowed: 'latest' or 'all'.`);
  }
  if (overlap === 'skip' && definition.task.singletonKey !== undefined) {
    throw new ConfigurationError(
      `${where}: task '${definition.task.name}' is a singleton, which already runs one at a time (later runs wait); overlap: 'skip' would hold a second lock. Use overlap: 'allow'.`,
    );
  }
  const trigger = makeTrigger(definition, where);
  const args: unknown = JSON.parse(canonicalJson(definition.args, definition.task.name));
  const spec: ScheduleSpec = {
    name: definition.name,
    task: definition.task.name,
    args,
    ...(trigger.kind === 'cron' ? { cron: trigger.cron.source, timezone: trigger.timezone } : { every: trigger.every }),
    overlap,
    missedRuns,
    ...(definition.description === undefined ? {} : { description: definition.description }),
  };
  return { name: definition.name, task: definition.task, trigger, spec };
}

/** Rebuild a schedule's trigger from its spec (a deployed schedule, or a fire's envelope). */
export function triggerOf(spec: Pick<ScheduleSpec, 'name' | 'cron' | 'timezone' | 'every'>): Trigger {
  return makeTrigger(
    {
      ...(spec.cron === undefined ? {} : { cron: spec.cron }),
      ...(spec.timezone === undefined || spec.cron === undefined ? {} : { timezone: spec.timezone }),
      ...(spec.every === undefined ? {} : { every: spec.every }),
    },
    `schedule '${spec.name}'`,
  );
}

/** One line describing a spec's trigger and rules, for the CLI. */
export function describeSpec(spec: ScheduleSpec): string {
  return `${describeTrigger(triggerOf(spec))} → ${spec.task} (overlap ${spec.overlap}, missed runs ${spec.missedRuns})`;
}

/** Check that a list of schedules has no two with one name. */
export function indexSchedules(schedules: readonly Schedule[]): ReadonlyMap<string, Schedule> {
  const byName = new Map<string, Schedule>();
  for (const schedule of schedules) {
    if (byName.has(schedule.name) && byName.get(schedule.name) !== schedule) {
      throw new ConfigurationError(
        `createSpool: two schedules are named '${schedule.name}'. Schedule names must be unique within an app; rename one.`,
      );
    }
    byName.set(schedule.name, schedule);
  }
  return byName;
}
