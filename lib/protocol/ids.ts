/**
 * spool's ids and names: the alphabet of each kind, its pattern, and the prefixes that keep kinds
 * apart, each written once. Each alphabet is a regex character class that messages quote as it
 * is, so a message cannot drift from the check (`…_ALPHABET` → `…_PATTERN` → `…_FORMAT`).
 *
 * | what | form | where it goes |
 * | --- | --- | --- |
 * | task id | {@link TASK_ID_FORMAT} | envelope `id`, FIFO deduplication id, store key |
 * | task name | {@link TASK_NAME_FORMAT} | envelope `task` |
 * | schedule name | {@link SCHEDULE_NAME_FORMAT} | EventBridge Scheduler schedule name |
 * | fire id | `sched:<schedule>:<time>` ({@link FIRE_ID_PREFIX}) | the task id of a schedule's fire |
 * | timer name | `delay.<task id>` ({@link timerName}) | one-time schedule of a long delay |
 * | delayed deduplication id | `<task id>@<notBefore, epoch ms>` ({@link delayedDeduplicationId}) | FIFO deduplication id |
 * | lock name | `unique#<key>`, `singleton#<key>` ({@link lockName}) | the store's lock keys |
 *
 * @module
 */

import { createHash } from 'node:crypto';
import {
  MAX_FIFO_ID_LENGTH,
  MAX_SCHEDULE_NAME_LENGTH,
  MAX_SCHEDULER_NAME_LENGTH,
  MAX_TASK_ID_LENGTH,
  MAX_TASK_NAME_LENGTH,
} from './limits.js';

/** The characters of a task id, as a regex character class (and as messages quote it). */
export const TASK_ID_ALPHABET = '[A-Za-z0-9_.:-]';
/** A whole task id: 1 to {@link MAX_TASK_ID_LENGTH} characters of {@link TASK_ID_ALPHABET}. */
export const TASK_ID_PATTERN = new RegExp(`^${TASK_ID_ALPHABET}{1,${MAX_TASK_ID_LENGTH}}$`);
/** What a task id is, for messages: `1–128 characters of [A-Za-z0-9_.:-]`. */
export const TASK_ID_FORMAT = `1–${MAX_TASK_ID_LENGTH} characters of ${TASK_ID_ALPHABET}`;

/** The characters of a task name, as a regex character class (and as messages quote it). */
export const TASK_NAME_ALPHABET = '[A-Za-z0-9_.:/-]';
/** A whole task name: 1 to {@link MAX_TASK_NAME_LENGTH} characters of {@link TASK_NAME_ALPHABET}. */
export const TASK_NAME_PATTERN = new RegExp(`^${TASK_NAME_ALPHABET}{1,${MAX_TASK_NAME_LENGTH}}$`);
/** What a task name is, for messages: `1–200 characters of [A-Za-z0-9_.:/-]`. */
export const TASK_NAME_FORMAT = `1–${MAX_TASK_NAME_LENGTH} characters of ${TASK_NAME_ALPHABET}`;

/** Whether `id` is a valid task id ({@link TASK_ID_FORMAT}). */
export function isValidTaskId(id: string): boolean {
  return TASK_ID_PATTERN.test(id);
}

/** Whether `name` is a valid task name ({@link TASK_NAME_FORMAT}). */
export function isValidTaskName(name: string): boolean {
  return TASK_NAME_PATTERN.test(name);
}

/**
 * The characters of a schedule name, as a regex character class: what an EventBridge Scheduler
 * schedule name allows, without the `.` of {@link TIMER_PREFIX}, so a schedule and a timer never
 * share a name.
 */
export const SCHEDULE_NAME_ALPHABET = '[A-Za-z0-9_-]';
/** A whole schedule name: {@link SCHEDULE_NAME_FORMAT}. */
export const SCHEDULE_NAME_PATTERN = new RegExp(
  `^[A-Za-z0-9]${SCHEDULE_NAME_ALPHABET}{0,${MAX_SCHEDULE_NAME_LENGTH - 1}}$`,
);
/** What a schedule name is, for messages. */
export const SCHEDULE_NAME_FORMAT = `1–${MAX_SCHEDULE_NAME_LENGTH} characters of ${SCHEDULE_NAME_ALPHABET}, starting with a letter or digit`;

/** The characters EventBridge Scheduler allows in schedule and schedule group names, as a regex character class. */
export const SCHEDULER_NAME_ALPHABET = '[0-9A-Za-z_.-]';
/** A whole EventBridge Scheduler schedule or group name: {@link SCHEDULER_NAME_FORMAT}. */
export const SCHEDULER_NAME_PATTERN = new RegExp(`^${SCHEDULER_NAME_ALPHABET}{1,${MAX_SCHEDULER_NAME_LENGTH}}$`);
/** What an EventBridge Scheduler name is, for messages. */
export const SCHEDULER_NAME_FORMAT = `1–${MAX_SCHEDULER_NAME_LENGTH} characters of ${SCHEDULER_NAME_ALPHABET}`;

/** The characters of an SQS FIFO message group id or deduplication id: printable ASCII without the space (`!` to `~`). */
export const FIFO_ID_ALPHABET = '[\\x21-\\x7e]';
/** A whole FIFO message group id or deduplication id: {@link FIFO_ID_FORMAT}. */
export const FIFO_ID_PATTERN = new RegExp(`^${FIFO_ID_ALPHABET}{1,${MAX_FIFO_ID_LENGTH}}$`);
/** What a FIFO id (an ordering key, for example) is, for messages. */
export const FIFO_ID_FORMAT = `1–${MAX_FIFO_ID_LENGTH} printable ASCII characters without spaces`;

/**
 * The prefix of a fire's task id, `sched:<schedule>:<scheduled time>`, and of its schedule's FIFO
 * group `sched:<schedule>` (`lib/schedule/fire.ts`).
 */
export const FIRE_ID_PREFIX = 'sched:';
/** What follows {@link FIRE_ID_PREFIX} and the schedule in the id of a fire made by `spool schedules trigger`. */
export const MANUAL_FIRE_MARKER = 'manual:';
/**
 * The prefix of the singleton lock a fire holds while it runs (`overlap: 'skip'`): `#schedule/<name>`.
 * Task names have no `#`, so it never meets a task's singleton key.
 */
export const FIRE_LOCK_PREFIX = '#schedule/';

/** The prefix of timer names (one-time schedules of long delays); schedule names have no `.`, so never collide. */
export const TIMER_PREFIX = 'delay.';

/** Task ids that a timer name holds as they are (longer ones, or other characters, are hashed). */
const TIMER_ID_PATTERN = new RegExp(
  `^${SCHEDULER_NAME_ALPHABET}{1,${MAX_SCHEDULER_NAME_LENGTH - TIMER_PREFIX.length}}$`,
);

/**
 * The name of a delayed run's one-time timer (EventBridge Scheduler: {@link SCHEDULER_NAME_FORMAT}):
 * `delay.<id>` when the id fits, else `delay.` and the first 40 hex digits of SHA-256(id).
 */
export function timerName(id: string): string {
  return TIMER_ID_PATTERN.test(id)
    ? `${TIMER_PREFIX}${id}`
    : `${TIMER_PREFIX}${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/**
 * The deduplication id of a delayed run's message, `<id>@<notBefore, epoch ms>` (a delayed body
 * names its start time, and each body needs its own deduplication id); its SHA-256 in hex when that
 * is longer than {@link MAX_FIFO_ID_LENGTH}.
 */
export function delayedDeduplicationId(id: string, notBefore: number): string {
  const plain = `${id}@${notBefore}`;
  return plain.length <= MAX_FIFO_ID_LENGTH ? plain : createHash('sha256').update(plain).digest('hex');
}

/** The prefix of the deduplication id of a message the worker sends to the dead-letter queue: `dl-<source message id>`. */
export const DEAD_LETTER_ID_PREFIX = 'dl-';
/** The prefix of the deduplication id of a message `spool dlq redrive` sends back: `rd-<dead letter's message id>`. */
export const REDRIVE_ID_PREFIX = 'rd-';

/** The kinds of lock a store keeps: `unique` (until the run ends) and `singleton` (while it runs). */
export type LockKind = 'unique' | 'singleton';

/** Longest key of a unique or singleton lock after its task name, UTF-8 bytes (the lock item's key stays well within DynamoDB's 2 KiB). */
export const MAX_LOCK_KEY_BYTES = 1024;

/**
 * The lock key of a task's unique or singleton key: `<task name>:<key>`, the key in Unicode NFC
 * (so keys that look the same and differ only in composition are one lock). A key over
 * {@link MAX_LOCK_KEY_BYTES} gives `{ problem }` instead.
 */
export function lockKey(taskName: string, key: string): string | { readonly problem: string } {
  const normalized = key.normalize('NFC');
  const bytes = Buffer.byteLength(normalized, 'utf8');
  if (bytes > MAX_LOCK_KEY_BYTES) {
    return { problem: `is ${bytes} bytes as UTF-8; the limit is ${MAX_LOCK_KEY_BYTES} (MAX_LOCK_KEY_BYTES)` };
  }
  return `${taskName}:${normalized}`;
}

/**
 * The name of a lock, `<kind>#<key>`: the embedded store's row key, and (after `lock#`) the
 * DynamoDB item key.
 */
export function lockName(kind: LockKind, key: string): string {
  return `${kind}#${key}`;
}
