/**
 * Retry policy: how many attempts, and how long to wait between them.
 *
 * @module
 */

import { ConfigurationError } from './errors.js';

/** How a task retries. Every field has a default; see {@link DEFAULT_RETRY}. */
export interface RetryOptions {
  /**
   * Attempts in all, the first included (1 = never retry).
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Smallest delay before a retry, ms. Delays are applied in whole seconds (SQS visibility), rounded up.
   * @default 1000
   */
  readonly minDelayMs?: number;
  /**
   * Largest delay before a retry, ms (at most 12 hours, SQS's longest visibility timeout).
   * @default 300000
   */
  readonly maxDelayMs?: number;
}

/** The resolved retry policy. */
export type RetryPolicy = Required<RetryOptions>;

/** Retry defaults: 3 attempts, 1 s to 5 min, exponential with full jitter. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, minDelayMs: 1000, maxDelayMs: 300_000 };

const MAX_DELAY_MS = 43_200_000;

/** Fill in defaults and check ranges; throws {@link ConfigurationError} naming the task and field. */
export function resolveRetry(taskName: string, options: RetryOptions | undefined): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options };
  const fail = (field: string, value: number, allowed: string): never => {
    throw new ConfigurationError(
      `Task '${taskName}': retry.${field} is ${value}; allowed: ${allowed}. Fix the retry options in defineTask().`,
      { taskName },
    );
  };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1 || policy.maxAttempts > 1000) {
    fail('maxAttempts', policy.maxAttempts, 'an integer from 1 to 1000');
  }
  if (!Number.isFinite(policy.minDelayMs) || policy.minDelayMs < 0 || policy.minDelayMs > MAX_DELAY_MS) {
    fail('minDelayMs', policy.minDelayMs, `0 to ${MAX_DELAY_MS} (12 hours)`);
  }
  if (
    !Number.isFinite(policy.maxDelayMs) ||
    policy.maxDelayMs < policy.minDelayMs ||
    policy.maxDelayMs > MAX_DELAY_MS
  ) {
    fail('maxDelayMs', policy.maxDelayMs, `minDelayMs (${policy.minDelayMs}) to ${MAX_DELAY_MS} (12 hours)`);
  }
  return policy;
}

/**
 * The delay before the attempt after `attempt` (1-based): exponential backoff with full jitter,
 * `uniform(minDelayMs, min(maxDelayMs, minDelayMs × 2^attempt))`.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(attempt, 40));
  return policy.minDelayMs + random() * (ceiling - policy.minDelayMs);
}
