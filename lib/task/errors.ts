/**
 * spool's errors. One base class; each subclass sets a literal `name` (never derived from
 * `constructor.name`, which minifiers rename), accepts `{ cause }` and carries context.
 *
 * Two of them are signals a handler throws on purpose:
 * - {@link NonRetriableError}: fail now, no more attempts (BullMQ's UnrecoverableError).
 * - {@link RetryAfterError}: retry, but not before the given delay (Inngest's RetryAfterError).
 *
 * @module
 */

/** Context that errors carry so a log line or a CLI message can say which run failed. */
export interface ErrorContext {
  readonly taskId?: string;
  readonly taskName?: string;
}

/** Base class of every error spool throws. */
export class SpoolError extends Error {
  override name = 'SpoolError';
  /** The run this error is about, when there is one. */
  readonly taskId: string | undefined;
  /** The task this error is about, when there is one. */
  readonly taskName: string | undefined;

  constructor(message: string, options: ErrorContext & { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.taskId = options.taskId;
    this.taskName = options.taskName;
  }
}

/**
 * Thrown by a handler to fail the run at once, without further attempts.
 *
 * @example
 * ```ts
 * if (!order) throw new NonRetriableError(`order ${args.orderId} does not exist`);
 * ```
 */
export class NonRetriableError extends SpoolError {
  override name = 'NonRetriableError';
}

/**
 * Thrown by a handler to retry the run after `retryAfterMs` (for example the delay a rate-limited
 * API asked for), instead of the task's backoff. Still counts as an attempt.
 *
 * @example
 * ```ts
 * if (res.status === 429) throw new RetryAfterError('rate limited', { retryAfterMs: 30_000 });
 * ```
 */
export class RetryAfterError extends SpoolError {
  override name = 'RetryAfterError';
  /** How long to wait before the next attempt, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(message: string, options: ErrorContext & { readonly retryAfterMs: number; readonly cause?: unknown }) {
    super(message, options);
    if (!Number.isFinite(options.retryAfterMs) || options.retryAfterMs < 0) {
      throw new ConfigurationError(
        `RetryAfterError: retryAfterMs must be a finite number ≥ 0, got ${String(options.retryAfterMs)}. ` +
          'Pass the delay in milliseconds, e.g. { retryAfterMs: 30_000 }.',
      );
    }
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A configuration value is missing or invalid. The message names the setting and how to set it. */
export class ConfigurationError extends SpoolError {
  override name = 'ConfigurationError';
}

/** An issue reported by a Standard Schema, flattened to a path and a message. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** Task arguments did not pass the task's schema (at enqueue: nothing was sent). */
export class ValidationError extends SpoolError {
  override name = 'ValidationError';
  /** Every issue the schema reported. */
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, options: ErrorContext & { readonly issues: readonly ValidationIssue[] }) {
    super(message, options);
    this.issues = options.issues;
  }
}

/** An enqueue was refused (oversize payload, unknown task, arguments that are not JSON). Nothing was sent. */
export class EnqueueError extends SpoolError {
  override name = 'EnqueueError';
}

/** A run ended without a result (`failed`, `dead` or `cancelled`); thrown by `handle.result()`. */
export class TaskFailedError extends SpoolError {
  override name = 'TaskFailedError';
  /** The terminal state the run ended in. */
  readonly state: 'failed' | 'dead' | 'cancelled';
  /** The name of the error the handler threw (or spool's reason), when known. */
  readonly errorName: string | undefined;

  constructor(
    message: string,
    options: ErrorContext & { readonly state: 'failed' | 'dead' | 'cancelled'; readonly errorName?: string },
  ) {
    super(message, options);
    this.state = options.state;
    this.errorName = options.errorName;
  }
}

/**
 * A handler returned a value JSON cannot carry faithfully (a bigint, a non-finite number, a
 * circular reference, a `toJSON()` that throws). The run fails without retrying; its record's
 * error has this name, and `handle.result()` rejects with a `TaskFailedError` whose `errorName` it is.
 */
export class InvalidResultError extends SpoolError {
  override name = 'InvalidResultError';
  /** Where in the result, as `$.items[2].amount` (`$` is the whole result). */
  readonly path: string;

  constructor(message: string, options: ErrorContext & { readonly path: string; readonly cause?: unknown }) {
    super(message, options);
    this.path = options.path;
  }
}

/** A wait ran out (for example `handle.result({ timeoutMs })`). */
export class TimeoutError extends SpoolError {
  override name = 'TimeoutError';
}

/** A handler ran longer than its hard timeout; the attempt was abandoned and counted as failed. */
export class HardTimeoutError extends SpoolError {
  override name = 'HardTimeoutError';
}

/** Serialisable description of an error, as the store keeps it. */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
}

/** Reduce any thrown value to `{ name, message }` without reflection on class names. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    return { name: error.name || 'Error', message: error.message };
  }
  return { name: 'NonErrorThrown', message: typeof error === 'string' ? error : safeJson(error) };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
