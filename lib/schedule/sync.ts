/**
 * `spool schedules sync`: make the deployed schedules match the ones declared in code — create
 * the new, update the changed, delete the ones code no longer has. Idempotent: a second sync
 * finds nothing to do. A paused schedule stays paused when updated.
 *
 * @module
 */

import type { DeployedSchedule, SchedulerPort } from '../backend/scheduler.js';
import type { Schedule, ScheduleSpec } from './define.js';

/** What a sync does (or, with `--dry-run`, would do). */
export interface SyncPlan {
  readonly create: readonly ScheduleSpec[];
  readonly update: readonly { readonly from: ScheduleSpec; readonly to: ScheduleSpec }[];
  readonly remove: readonly ScheduleSpec[];
  readonly unchanged: readonly string[];
}

/** Compare code with what is deployed. Every spec is checked against the backend first (`check`). */
export function planSync(
  code: Iterable<Schedule>,
  deployed: readonly DeployedSchedule[],
  scheduler: SchedulerPort,
): SyncPlan {
  const wanted = new Map([...code].map((s) => [s.name, s.spec]));
  for (const spec of wanted.values()) scheduler.check?.(spec);
  const live = new Map(deployed.map((d) => [d.spec.name, d.spec]));
  const create: ScheduleSpec[] = [];
  const update: { from: ScheduleSpec; to: ScheduleSpec }[] = [];
  const unchanged: string[] = [];
  for (const [name, spec] of wanted) {
    const current = live.get(name);
    if (current === undefined) create.push(spec);
    else if (JSON.stringify(current) === JSON.stringify(spec)) unchanged.push(name);
    else update.push({ from: current, to: spec });
  }
  const remove = [...live.values()].filter((spec) => !wanted.has(spec.name));
  return { create, update, remove, unchanged };
}

/** Apply a plan: creates and updates first, then deletes. */
export async function applySync(scheduler: SchedulerPort, plan: SyncPlan): Promise<void> {
  for (const spec of plan.create) await scheduler.put(spec);
  for (const { to } of plan.update) await scheduler.put(to);
  for (const spec of plan.remove) await scheduler.remove(spec.name);
}

/** Whether a plan changes anything. */
export function planIsEmpty(plan: SyncPlan): boolean {
  return plan.create.length + plan.update.length + plan.remove.length === 0;
}
