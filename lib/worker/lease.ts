/**
 * Lease length.
 *
 * @module
 */

import type { AnyTask } from '../task/define.js';

/**
 * How long a lease taken (or renewed) at `now` lasts: the task's `leaseSeconds`, but never more
 * than a second past the runtime's deadline (a Lambda's timeout), so the run of an invocation that
 * timed out can be taken over at once.
 */
export function leaseLength(task: AnyTask, now: number, deadline: number | undefined): number {
  const leaseMs = task.leaseSeconds * 1000;
  return deadline === undefined ? leaseMs : Math.max(1000, Math.min(leaseMs, deadline - now + 1000));
}
