/**
 * Fires: one scheduled time of one schedule, and the run it becomes.
 *
 * **A fire's task id is deterministic**: `sched:<schedule>:<scheduled time, ISO 8601>`
 * ({@link FIRE_ID_PREFIX}). It is also the message's deduplication id and group. So two schedulers firing the same time, a
 * redelivery, or EventBridge Scheduler retrying its target all name the same run, and the store's
 * claim lets it run once.
 *
 * On AWS, EventBridge Scheduler sends a **fire message** to the task queue (its target input,
 * {@link fireTemplate}); the worker turns it into the fire's run ({@link fireRun}) and deletes
 * it. The extra hop lets fires of one schedule run in parallel (`overlap: 'allow'`) although
 * Scheduler gives all of a schedule's messages one FIFO group.
 *
 * @module
 */

import type { OutgoingMessage } from '../backend/transport.js';
import { canonicalJson } from '../protocol/canonical.js';
import { encodeEnvelope, type FireInfo, PROTOCOL_VERSION, parseIsoTime } from '../protocol/envelope.js';
import { FIRE_ID_PREFIX, MANUAL_FIRE_MARKER } from '../protocol/ids.js';
import type { ScheduleSpec } from './define.js';

/** The placeholder EventBridge Scheduler replaces with the fire's scheduled time. */
export const SCHEDULED_TIME_PLACEHOLDER = '<aws.scheduler.scheduled-time>';

/**
 * The task id of a fire: `sched:<schedule>:<scheduled time, ISO 8601 with ms>`, or
 * `sched:<schedule>:manual:<time>` for one made by `spool schedules trigger` (`manual`).
 */
export function fireId(schedule: string, at: number, manual = false): string {
  return `${fireGroup(schedule)}:${manual ? MANUAL_FIRE_MARKER : ''}${new Date(at).toISOString()}`;
}

/** The FIFO group of a schedule's fire messages (Scheduler's `SqsParameters.MessageGroupId`): `sched:<schedule>`. */
export function fireGroup(schedule: string): string {
  return `${FIRE_ID_PREFIX}${schedule}`;
}

/**
 * The fire info a fire's run carries in its envelope. A manual fire (`manual`) carries
 * `overlap: 'allow'` and `missedRuns: 'all'`, so it is never skipped.
 */
export function fireInfo(spec: ScheduleSpec, at: number, manual = false): FireInfo {
  const info: FireInfo = {
    name: spec.name,
    at: new Date(at).toISOString(),
    ...(spec.cron === undefined ? {} : { cron: spec.cron, timezone: spec.timezone ?? 'UTC' }),
    ...(spec.every === undefined ? {} : { every: spec.every }),
    overlap: spec.overlap,
    missedRuns: spec.missedRuns,
  };
  return manual ? { ...info, overlap: 'allow', missedRuns: 'all' } : info;
}

/**
 * The message of a fire's run: id, deduplication id and group are all the fire id. A manual fire
 * (`options.manual`) carries `overlap: 'allow'` and `missedRuns: 'all'`, so it is never skipped.
 */
export function fireRun(spec: ScheduleSpec, at: number, options: { manual?: boolean } = {}): OutgoingMessage {
  const id = fireId(spec.name, at, options.manual);
  const body = encodeEnvelope(id, spec.task, canonicalJson(spec.args, spec.task), {
    schedule: fireInfo(spec, at, options.manual),
  });
  return { body, deduplicationId: id, groupId: id };
}

/**
 * The fire message EventBridge Scheduler sends for a schedule (its target input):
 * `{"spool":1,"fire":<spec>,"scheduledTime":"<aws.scheduler.scheduled-time>"}`.
 */
export function fireTemplate(spec: ScheduleSpec): string {
  return `{"spool":${PROTOCOL_VERSION},"fire":${JSON.stringify(spec)},"scheduledTime":"${SCHEDULED_TIME_PLACEHOLDER}"}`;
}

/** A decoded fire message: the schedule, and its scheduled time when Scheduler filled it in. */
export interface FireMessage {
  readonly spec: ScheduleSpec;
  /** Epoch ms; `undefined` when the placeholder was not replaced (some emulators do not). */
  readonly scheduledTime: number | undefined;
}

/** Whether a parsed message body is a fire message (has a `fire` object). */
export function isFireMessage(value: Record<string, unknown>): boolean {
  return typeof value.fire === 'object' && value.fire !== null;
}

/** Read a fire message; a string says why it is not a valid one. */
export function decodeFireMessage(value: Record<string, unknown>): FireMessage | string {
  const spec = value.fire as Record<string, unknown>;
  if (typeof spec.name !== 'string' || typeof spec.task !== 'string' || !('args' in spec)) {
    return `fire message without "fire.name", "fire.task" and "fire.args" (got ${JSON.stringify(spec).slice(0, 120)})`;
  }
  if ((spec.cron === undefined) === (spec.every === undefined)) {
    return `fire message for schedule '${spec.name}' has neither "cron" nor "every" (or both)`;
  }
  return {
    spec: { overlap: 'skip', missedRuns: 'latest', ...(spec as object) } as ScheduleSpec,
    scheduledTime: parseIsoTime(value.scheduledTime),
  };
}
