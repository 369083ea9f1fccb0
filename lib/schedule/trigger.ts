/**
 * When a recurring schedule fires: a cron expression in a time zone, or a fixed rate.
 *
 * Fire times are **deterministic**, so every scheduler computes the same ones: a cron fires at
 * its expression's instants (see ./cron.ts for daylight saving); a rate of `p` fires at the
 * multiples of `p` since the Unix epoch (a 1-minute rate at every :00 second, a 1-hour rate on
 * the hour, UTC). On AWS, EventBridge Scheduler anchors a rate at the schedule's start instead;
 * spool takes the time Scheduler reports, so fire ids stay deterministic there too.
 *
 * @module
 */

import { ConfigurationError } from '../task/errors.js';
import { type CronExpression, checkTimeZone, nextCronTime, parseCron, previousCronTime, toAwsCron } from './cron.js';

/** A schedule's trigger. */
export type Trigger =
  | { readonly kind: 'cron'; readonly cron: CronExpression; readonly timezone: string }
  | { readonly kind: 'rate'; readonly everyMs: number; readonly every: string };

const DAY_MS = 86_400_000;
const UNITS: Readonly<Record<string, number>> = { second: 1000, minute: 60_000, hour: 3_600_000, day: DAY_MS };

/** Longest rate, ms: 365 days (spool's own bound). */
const MAX_EVERY_MS = 365 * DAY_MS;

/** Parse a rate such as `'1 second'`, `'5 minutes'`, `'2 hours'`, `'1 day'` into ms. */
export function parseEvery(every: string): number {
  const match = /^\s*(\d+)\s*(second|minute|hour|day)s?\s*$/i.exec(every);
  const count = match === null ? Number.NaN : Number(match[1]);
  const unit = match === null ? undefined : UNITS[(match[2] as string).toLowerCase()];
  if (unit === undefined || !Number.isInteger(count) || count < 1 || count * unit > MAX_EVERY_MS) {
    throw new ConfigurationError(
      `every ${JSON.stringify(every)} is not a rate; write "<n> <unit>" with n ≥ 1 and unit second(s), minute(s), hour(s) or day(s), up to ${MAX_EVERY_MS / DAY_MS} days (for example "30 seconds" or "1 hour").`,
    );
  }
  return count * unit;
}

/** Build a trigger from a definition's `cron`/`timezone` or `every` (exactly one of the two). */
export function makeTrigger(options: { cron?: string; timezone?: string; every?: string }, where: string): Trigger {
  if ((options.cron === undefined) === (options.every === undefined)) {
    throw new ConfigurationError(
      `${where}: give exactly one of cron (for example "0 2 * * *") and every (for example "5 minutes").`,
    );
  }
  if (options.every !== undefined) {
    if (options.timezone !== undefined) {
      throw new ConfigurationError(
        `${where}: timezone applies to cron schedules only; a rate is the same in every zone.`,
      );
    }
    return { kind: 'rate', everyMs: parseEvery(options.every), every: options.every.trim() };
  }
  const timezone = options.timezone ?? 'UTC';
  checkTimeZone(timezone);
  return { kind: 'cron', cron: parseCron(options.cron as string), timezone };
}

/** The first fire strictly after `after` (epoch ms); `undefined` when the cron never fires again. */
export function nextFire(trigger: Trigger, after: number): number | undefined {
  if (trigger.kind === 'cron') return nextCronTime(trigger.cron, trigger.timezone, after);
  return after - (after % trigger.everyMs) + trigger.everyMs;
}

/** The last fire at or before `at` (epoch ms). */
export function latestFire(trigger: Trigger, at: number): number | undefined {
  if (trigger.kind === 'cron') return previousCronTime(trigger.cron, trigger.timezone, at);
  return at - (at % trigger.everyMs);
}

/**
 * The fire that follows the one at `fireTime`: the next cron instant, or `fireTime` + the rate
 * (EventBridge anchors rates at their start, so a rate fire need not sit on spool's grid).
 */
export function followingFire(trigger: Trigger, fireTime: number): number | undefined {
  return trigger.kind === 'cron' ? nextCronTime(trigger.cron, trigger.timezone, fireTime) : fireTime + trigger.everyMs;
}

/**
 * The EventBridge Scheduler expression of a trigger. Rates must be whole minutes (Scheduler's
 * smallest rate is 1 minute); the error says so and names the schedule.
 */
export function toAwsExpression(trigger: Trigger, scheduleName: string): string {
  if (trigger.kind === 'cron') return toAwsCron(trigger.cron);
  const minutes = trigger.everyMs / 60_000;
  if (!Number.isInteger(minutes)) {
    throw new ConfigurationError(
      `schedule '${scheduleName}': every ${JSON.stringify(trigger.every)} cannot run on EventBridge Scheduler, whose smallest rate is 1 minute and whose rates are whole minutes. ` +
        'Use a rate of whole minutes (or a cron expression) for schedules deployed to AWS; sub-minute rates run on the embedded runtime only.',
    );
  }
  if (minutes % 1440 === 0) return `rate(${minutes / 1440} ${minutes === 1440 ? 'day' : 'days'})`;
  if (minutes % 60 === 0) return `rate(${minutes / 60} ${minutes === 60 ? 'hour' : 'hours'})`;
  return `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`;
}

/** The trigger written as in code: `cron "0 2 * * *" Europe/Berlin` or `every 5 minutes`. */
export function describeTrigger(trigger: Trigger): string {
  return trigger.kind === 'cron' ? `cron "${trigger.cron.source}" ${trigger.timezone}` : `every ${trigger.every}`;
}
