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
  return leaseMsAt(task.leaseSeconds, now, deadline);
}

/**
 * {@link leaseLength} from the task's `leaseSeconds` alone (the lease keeper's thread has no task
 * object), ms.
 */
export function leaseMsAt(leaseSeconds: number, now: number, deadline: number | undefined): number {
  const leaseMs = leaseSeconds * 1000;
  return deadline === undefined ? leaseMs : Math.max(1000, Math.min(leaseMs, deadline - now + 1000));
}

/**
 * How long the lease keeper (`./lease-keeper.ts`) renews, while the main thread is blocked, the
 * lease of an attempt whose task has no hard timeout (and no Lambda deadline): 15 minutes from its
 * start, ms.
 */
export const UNTIMED_KEEP_MS = 15 * 60_000;
