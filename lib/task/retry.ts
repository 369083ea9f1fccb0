/**
 * Retry policy: how many attempts, and how long to wait between them.
 *
 * @module
 */

import { MAX_ATTEMPTS, MAX_RETRY_DELAY_MS } from '../protocol/limits.js';
import { ConfigurationError } from './errors.js';

/** How a task retries. Every field has a default; see {@link DEFAULT_RETRY}. */
export interface RetryOptions {
  /**
   * Attempts in all, the first included (1 = never retry), at most 1000.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Smallest delay before a retry, ms: no backoff is shorter (a `RetryAfterError` sets its own
   * delay). It is also the base of the exponential (see {@link backoffMs}), so 0 makes every retry
   * immediate. Delays are applied in whole seconds (SQS visibility), rounded up.
   * @default 1000
   */
  readonly minDelayMs?: number;
  /**
   * Largest backoff before a retry, ms (at most 12 hours, {@link MAX_RETRY_DELAY_MS}: SQS's longest
   * visibility timeout).
   * @default 300000
   */
  readonly maxDelayMs?: number;
}

/** The resolved retry policy. */
export type RetryPolicy = Required<RetryOptions>;

/**
 * Retry defaults: 3 attempts; each delay drawn uniformly between 1 s and the exponential 1 s × 2^attempt,
 * capped at 5 min (see {@link backoffMs}).
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, minDelayMs: 1000, maxDelayMs: 300_000 };

/** Fill in defaults and check ranges; throws {@link ConfigurationError} naming the task and field. */
export function resolveRetry(taskName: string, options: RetryOptions | undefined): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options };
  const fail = (field: string, value: number, allowed: string): never => {
    throw new ConfigurationError(
      `Task '${taskName}': retry.${field} is ${value}; allowed: ${allowed}. Fix the retry options in defineTask().`,
      { taskName },
    );
  };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1 || policy.maxAttempts > MAX_ATTEMPTS) {
    fail('maxAttempts', policy.maxAttempts, `an integer from 1 to ${MAX_ATTEMPTS}`);
  }
  if (!Number.isFinite(policy.minDelayMs) || policy.minDelayMs < 0 || policy.minDelayMs > MAX_RETRY_DELAY_MS) {
    fail('minDelayMs', policy.minDelayMs, `0 to ${MAX_RETRY_DELAY_MS} (12 hours)`);
  }
  if (
    !Number.isFinite(policy.maxDelayMs) ||
    policy.maxDelayMs < policy.minDelayMs ||
    policy.maxDelayMs > MAX_RETRY_DELAY_MS
  ) {
    fail('maxDelayMs', policy.maxDelayMs, `minDelayMs (${policy.minDelayMs}) to ${MAX_RETRY_DELAY_MS} (12 hours)`);
  }
  return policy;
}

/**
 * The delay before the attempt after `attempt` (1-based), ms: exponential backoff, drawn uniformly
 * between `minDelayMs` and the capped exponential, `uniform(minDelayMs, min(maxDelayMs, minDelayMs
 * × 2^attempt))`. Not AWS's "full jitter", `uniform(0, cap)`: the floor is deliberate, so a retry
 * never comes sooner than `minDelayMs`. (`2^attempt` stops growing at attempt 40.)
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(attempt, 40));
  return policy.minDelayMs + random() * (ceiling - policy.minDelayMs);
}
