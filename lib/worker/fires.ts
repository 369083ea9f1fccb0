/**
 * The processor's part in scheduling: delayed runs, fire messages, missed and overlapping fires.
 *
 * @module
 */

import type { Queue, ReceivedMessage } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import type { Envelope, FireInfo } from '../protocol/envelope.js';
import { FIRE_LOCK_PREFIX } from '../protocol/ids.js';
import { MAX_VISIBILITY_SECONDS } from '../protocol/limits.js';
import { type Schedule, triggerOf } from '../schedule/define.js';
import { decodeFireMessage, fireId, fireInfo, fireRun, isFireMessage } from '../schedule/fire.js';
import { followingFire, latestFire } from '../schedule/trigger.js';
import type { ErrorInfo } from '../task/errors.js';
import { sleep } from './sleep.js';

/** A run due within this long is held by the worker until it is due, instead of hidden again, ms. */
const HOLD_MS = 1000;

/**
 * Wait for a delayed run's start. Returns a retry that hides the message until (just before) the
 * start when it is more than a second away; otherwise sleeps until the start and returns
 * `undefined` (run it now). Visibility timeouts are whole seconds, so the message comes back up
 * to a second early and the last part is waited out here: a delayed run starts on time.
 */
export async function waitForStart(
  notBefore: number,
  now: () => number,
  stop: AbortSignal,
): Promise<{ kind: 'retry'; delaySeconds: number; note: string } | undefined> {
  const waitMs = notBefore - now();
  if (waitMs > HOLD_MS) {
    return {
      kind: 'retry',
      delaySeconds: Math.min(MAX_VISIBILITY_SECONDS, Math.floor(waitMs / 1000)),
      note: 'delayed',
    };
  }
  if (waitMs > 0) {
    await sleep(waitMs, stop);
    if (stop.aborted) return { kind: 'retry', delaySeconds: 0, note: 'released on shutdown' };
  }
  return undefined;
}

/** The singleton lock a fire holds while it runs (`overlap: 'skip'`); `#` keeps it apart from task singletons. */
export function fireSingletonKey(fire: FireInfo): string | undefined {
  return fire.overlap === 'skip' ? `${FIRE_LOCK_PREFIX}${fire.name}` : undefined;
}

/**
 * Why a fire is skipped as missed, or `undefined` to run it. With `missedRuns: 'latest'` (the
 * default), a fire that starts after the schedule's next fire was already due is skipped: that
 * later fire runs instead, so of a backlog of fires only the latest runs.
 */
export function missedFire(fire: FireInfo | undefined, now: number): string | undefined {
  if (fire === undefined || fire.missedRuns === 'all') return undefined;
  const at = Date.parse(fire.at);
  let next: number | undefined;
  try {
    next = followingFire(triggerOf(fire), at);
  } catch {
    return undefined; // an unreadable trigger cannot be judged: run it
  }
  if (next === undefined || next > now) return undefined;
  return (
    `missed: the fire at ${fire.at} started at ${new Date(now).toISOString()}, after the next fire (${new Date(next).toISOString()}) was due; ` +
    "with missedRuns: 'latest' only the latest due fire runs"
  );
}

/** What the processor needs to turn fire messages into runs. */
export interface FireDeps {
  readonly queue: Queue;
  readonly logger: Logger;
  /** The app's schedules, by name: the only ones whose fires run, with their declared task and arguments. */
  readonly schedules: ReadonlyMap<string, Schedule>;
}

/** What {@link trustedFireRun} gives. */
export type TrustedFireRun =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly reason: string };

/**
 * A run that carries a `schedule` field, as the app declares it, or why it is refused. Anyone who
 * may send to the task queue can write a `schedule` field, and it decides what happens to the run
 * (a missed fire is cancelled, an overlapping one skipped), so nothing in it is taken on trust:
 * - the schedule must be one the app declares (`schedules`), of the envelope's task;
 * - the envelope's id must be that fire's id (`sched:<name>:<at>`, or a manual fire's), so the
 *   field cannot make another run a fire;
 * - the fire's rules (trigger, overlap, missed runs) and its arguments are the declared
 *   schedule's; the message's are not used.
 */
export function trustedFireRun(envelope: Envelope, schedules: ReadonlyMap<string, Schedule>): TrustedFireRun {
  const claimed = envelope.schedule;
  if (claimed === undefined) return { ok: true, envelope };
  const schedule = schedules.get(claimed.name);
  const named = `"schedule" names ${JSON.stringify(claimed.name.slice(0, 80))}`;
  if (schedule === undefined) {
    return { ok: false, reason: `${named}, which this app does not declare; only declared schedules' fires run` };
  }
  if (schedule.spec.task !== envelope.task) {
    return { ok: false, reason: `${named}, whose task is '${schedule.spec.task}', not '${envelope.task}'` };
  }
  const at = Date.parse(claimed.at);
  const manual = envelope.id === fireId(schedule.name, at, true);
  if (!manual && envelope.id !== fireId(schedule.name, at)) {
    return {
      ok: false,
      reason: `${named} and the fire at ${claimed.at}, whose id is ${fireId(schedule.name, at)}, but the message's id is ${envelope.id}`,
    };
  }
  const { argsRef: _ignored, ...rest } = envelope;
  return { ok: true, envelope: { ...rest, args: schedule.spec.args, schedule: fireInfo(schedule.spec, at, manual) } };
}

/** A cheap first look: only a body that mentions `"fire"` can be a fire message. */
export function mightBeFireMessage(body: string): boolean {
  return body.includes('"fire"');
}

/**
 * If the message is a schedule's fire message (EventBridge Scheduler's target input), send the
 * fire's run and resolve `ack`, or resolve the error that makes it undeliverable. Resolves
 * `undefined` for any other message.
 *
 * The message names the schedule; the run is the app's declared schedule of that name (its task
 * and arguments, never the message's), and a schedule the app does not declare is refused.
 * The fire time is the one Scheduler filled in; if it was not filled in (some emulators leave the
 * placeholder), the schedule's latest fire at or before the message's send time.
 */
export async function handleFireMessage(
  deps: FireDeps,
  message: ReceivedMessage,
): Promise<{ kind: 'ack'; note: string } | { kind: 'invalid'; error: ErrorInfo } | undefined> {
  if (!mightBeFireMessage(message.body)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(message.body);
  } catch {
    return undefined; // not JSON: the envelope decoder explains
  }
  if (typeof value !== 'object' || value === null || !isFireMessage(value as Record<string, unknown>)) return undefined;
  const fire = decodeFireMessage(value as Record<string, unknown>);
  if (typeof fire === 'string') return { kind: 'invalid', error: { name: 'MalformedMessage', message: fire } };
  // The message names the schedule; what it runs is what the app declares under that name.
  const schedule = deps.schedules.get(fire.spec.name);
  if (schedule === undefined) {
    const reason = `fire message for schedule ${JSON.stringify(fire.spec.name.slice(0, 80))}, which this app does not declare; only declared schedules fire`;
    return { kind: 'invalid', error: { name: 'MalformedMessage', message: reason } };
  }
  const spec = schedule.spec;
  let at = fire.scheduledTime;
  try {
    at ??= latestFire(triggerOf(spec), message.sentAt);
  } catch (error) {
    return {
      kind: 'invalid',
      error: { name: 'MalformedMessage', message: `fire message: ${(error as Error).message}` },
    };
  }
  if (at === undefined) {
    const reason = `fire message for schedule '${spec.name}': its cron never fired before the message was sent`;
    return { kind: 'invalid', error: { name: 'MalformedMessage', message: reason } };
  }
  const run = fireRun(spec, at);
  await deps.queue.send([run]);
  deps.logger.debug('schedule fired', {
    schedule: spec.name,
    at: new Date(at).toISOString(),
    taskId: run.deduplicationId,
    timeFromMessage: fire.scheduledTime !== undefined,
  });
  return { kind: 'ack', note: 'fired' };
}
