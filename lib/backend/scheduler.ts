/**
 * The scheduler port: where recurring schedules are deployed and one-time timers (long delays)
 * are kept. Its semantics are those of **EventBridge Scheduler** with an SQS FIFO target, and
 * every backend reproduces them (the conformance suite checks):
 *
 * - Recurring schedules live under unique names, each `ENABLED` or `DISABLED`. `put` creates or
 *   updates one and keeps its state; `setState` pauses or resumes it.
 * - A one-time timer sends its message to the task queue once, at or after its time, and then is
 *   gone (`ActionAfterCompletion: DELETE`). Creating a timer whose name exists changes nothing
 *   and reports `exists`. Deleting one before it fires means it never fires.
 * - Who fires: with `firing: 'service'` the backend fires recurring schedules and timers by
 *   itself (EventBridge Scheduler). With `firing: 'in-process'` spool's own schedule runner (in
 *   every worker) does, through {@link SchedulerPort.recordFire} and {@link SchedulerPort.releaseDue}.
 *
 * @module
 */

import type { ScheduleSpec } from '../schedule/define.js';
import type { OutgoingMessage } from './transport.js';

/** `ENABLED` fires; `DISABLED` (paused) does not. */
export type ScheduleState = 'ENABLED' | 'DISABLED';

/** A recurring schedule as deployed. */
export interface DeployedSchedule {
  readonly spec: ScheduleSpec;
  readonly state: ScheduleState;
  /** The last fire recorded (in-process firing only), epoch ms. */
  readonly lastFireAt?: number;
  /** When it was created or last updated, epoch ms (in-process firing: fires start after it). */
  readonly updatedAt?: number;
}

/** A one-time timer: send `message` to the task queue at `at`. */
export interface OneTimeTimer {
  /** Unique name (EventBridge Scheduler's: `SCHEDULER_NAME_FORMAT` in `lib/protocol/ids.ts`). */
  readonly name: string;
  /** When to send, epoch ms. */
  readonly at: number;
  readonly message: OutgoingMessage;
}

/** Largest message a one-time timer carries, in characters (EventBridge Scheduler's target input limit). */
export const MAX_TIMER_MESSAGE_CHARS = 8192;

/** The scheduler port. */
export interface SchedulerPort {
  /** Who fires schedules and timers: the backend's service, or spool's in-process runner. */
  readonly firing: 'service' | 'in-process';
  /** Throw a `ConfigurationError` saying why, if this backend cannot run `spec` (EventBridge: a sub-minute rate). */
  check?(spec: ScheduleSpec): void;
  /** Deployed recurring schedules, by name. */
  list(): Promise<DeployedSchedule[]>;
  /**
   * Create or update a recurring schedule; an existing one keeps its state. `unchanged` when it
   * was deployed with this spec already. Rejects a spec the backend cannot run, saying why.
   */
  put(spec: ScheduleSpec): Promise<'created' | 'updated' | 'unchanged'>;
  /** Delete a recurring schedule; `false` when there was none. */
  remove(name: string): Promise<boolean>;
  /** Pause or resume; `false` when there is no such schedule. */
  setState(name: string, state: ScheduleState): Promise<boolean>;
  /**
   * Record that the fire at `at` was sent (in-process firing): condition lastFireAt absent or
   * < `at`. `false` when another runner recorded it (or a later one) first.
   */
  recordFire?(name: string, at: number): Promise<boolean>;
  /** Create a one-time timer. */
  scheduleOnce(timer: OneTimeTimer): Promise<'created' | 'exists'>;
  /** Delete a one-time timer before it fires; `false` when there was none (fired, or never made). */
  cancelOnce(name: string): Promise<boolean>;
  /** Send every timer due at `now` to the task queue and delete it (in-process firing); resolves how many. */
  releaseDue?(now: number): Promise<number>;
}
