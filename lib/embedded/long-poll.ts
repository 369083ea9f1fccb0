/**
 * The embedded queue's long poll: how long a receive sleeps between two looks at the file when no
 * wake-up came (in-process sends and other processes' notifications wake it at once; see wake.ts).
 * No SQLite here, so the public declarations that name {@link LongPollOptions} need no SQLite types.
 *
 * @module
 */

import { MAX_WAIT_SECONDS } from '../protocol/limits.js';
import { ConfigurationError } from '../task/errors.js';

/** The fallback polling of a long poll: how long a receive sleeps between two looks at the file. */
export interface LongPollOptions {
  /** First sleep, ms; also the sleep after each wake-up that found nothing. @default 5 */
  readonly firstSleepMs?: number;
  /** Longest sleep, ms (each sleep is 1.5× the one before, up to this). At most 20,000. @default 50 */
  readonly maxSleepMs?: number;
}

/** Longest sleep between two polls of a long poll, ms (default of {@link LongPollOptions.maxSleepMs}). */
const MAX_POLL_SLEEP_MS = 50;
/** First sleep of a long poll, ms (default of {@link LongPollOptions.firstSleepMs}). */
const FIRST_POLL_SLEEP_MS = 5;
/** Each sleep of a long poll is this many times the one before. */
export const POLL_SLEEP_GROWTH = 1.5;
/** The first and the longest sleep of a long poll, checked (every problem reported at once). */
export function pollSleeps(queue: string, longPoll: LongPollOptions | undefined): [firstMs: number, maxMs: number] {
  const first = longPoll?.firstSleepMs ?? FIRST_POLL_SLEEP_MS;
  const max = longPoll?.maxSleepMs ?? MAX_POLL_SLEEP_MS;
  const limit = MAX_WAIT_SECONDS * 1000;
  const problems: string[] = [];
  for (const [name, value] of [
    ['firstSleepMs', first],
    ['maxSleepMs', max],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > limit) {
      problems.push(`${name} must be an integer from 1 to ${limit}, got ${String(value)}`);
    }
  }
  if (problems.length === 0 && first > max) {
    problems.push(`firstSleepMs (${first}) must not exceed maxSleepMs (${max})`);
  }
  if (problems.length > 0) {
    throw new ConfigurationError(
      `EmbeddedQueue ${queue}: longPoll: ${problems.join('; ')}. ` +
        `Omit longPoll for the defaults (${FIRST_POLL_SLEEP_MS} and ${MAX_POLL_SLEEP_MS} ms).`,
    );
  }
  return [first, max];
}
