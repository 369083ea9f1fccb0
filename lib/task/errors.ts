/**
 * spool's errors. One base class; each subclass sets a literal `name` (never derived from
 * `constructor.name`, which minifiers rename), accepts `{ cause }` and carries context.
 *
 * Every error carries a stable {@link SpoolErrorCode} in `code`, and callers decide on the code,
 * never on the message text. The table in [docs/errors.md](../../docs/errors.md) lists each code
 * once, with its class, whether spool retries it, its HTTP status and its CLI exit code.
 *
 * Every error is also branded with {@link SPOOL_ERROR_BRAND} (a `Symbol.for` symbol, shared by every
 * copy of spool in the process), so an error made by another copy (the ESM and the CommonJS build,
 * or two bundles) is still recognised: by {@link isSpoolError} and {@link hasErrorCode}, and by
 * `instanceof`, which each class answers from the brand and its codes (`static codes`).
 *
 * Two of them are signals a handler throws on purpose:
 * - {@link NonRetriableError}: fail now, no more attempts (BullMQ's UnrecoverableError).
 * - {@link RetryAfterError}: retry, but not before the given delay (Inngest's RetryAfterError).
 *
 * @module
 */

import type { BlobRef } from '../protocol/blob-ref.js';
import { MAX_ERROR_MESSAGE_BYTES, MAX_ERROR_NAME_LENGTH } from '../protocol/limits.js';
import { reasonError } from '../protocol/reasons.js';

/**
 * Every code a spool error can carry, one per situation a caller may need to tell apart. The table
 * in `docs/errors.md` says what each means, and how spool, the HTTP API and the CLI treat it.
 */
export const SPOOL_ERROR_CODES = [
  'BACKEND_FAILURE',
  'BACKEND_UNREACHABLE',
  'NON_RETRIABLE',
  'RETRY_AFTER',
  'INVALID_CONFIGURATION',
  'INVALID_ARGUMENTS',
  'PAYLOAD_TOO_LARGE',
  'INVALID_ENQUEUE_OPTION',
  'ARGUMENTS_NOT_JSON',
  'UNIQUE_LOCK_CONTENDED',
  'ENQUEUE_REFUSED',
  'TASK_FAILED',
  'INVALID_RESULT',
  'TIMEOUT',
  'HARD_TIMEOUT',
  'ATTEMPT_ABORTED',
] as const;

/** The stable code of a spool error (see {@link SPOOL_ERROR_CODES} and `docs/errors.md`). */
export type SpoolErrorCode = (typeof SPOOL_ERROR_CODES)[number];

/** The codes of an {@link EnqueueError}, one per reason an enqueue is refused. */
export type EnqueueErrorCode = (typeof EnqueueError.codes)[number];

/**
 * The brand set on every spool error: `Symbol.for('spool-tasks.error')`, the same symbol in every
 * copy of spool loaded in the process.
 */
export const SPOOL_ERROR_BRAND: unique symbol = Symbol.for('spool-tasks.error');

/** Context that errors carry so a log line or a CLI message can say which run failed. */
export interface ErrorContext {
  readonly taskId?: string;
  readonly taskName?: string;
}

/** What every error's constructor accepts besides the message. */
export interface SpoolErrorOptions extends ErrorContext {
  /** The error this one wraps. */
  readonly cause?: unknown;
}

/** A class of spool error, as `instanceof` and {@link hasErrorCode} see it. */
interface ErrorFamily {
  readonly codes: readonly string[];
}

/**
 * Base class of every error spool throws. Its `code` says which situation it is (a plain
 * `SpoolError` is a backend failure); see `docs/errors.md`.
 *
 * `instanceof SpoolError` is true for every spool error, from any copy of spool; `instanceof` a
 * subclass is true for an error that carries one of the subclass's `codes`.
 */
export class SpoolError extends Error {
  /** Every code; `instanceof SpoolError` accepts any branded error, even one with a code this copy does not know. */
  static readonly codes: readonly SpoolErrorCode[] = SPOOL_ERROR_CODES;

  /**
   * `instanceof` from the brand and the code, so that an error from another copy of spool is
   * recognised. A subclass that declares no `codes` of its own is matched by its prototype only.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about; subclasses inherit this method.
    return isInstance(this, value);
  }

  override name = 'SpoolError';
  /** Which situation this is: stable across versions, unlike the message. */
  readonly code: SpoolErrorCode;
  /** Always `true`; how {@link isSpoolError} recognises a spool error from any copy of spool. */
  declare readonly [SPOOL_ERROR_BRAND]: true;
  /** The run this error is about, when there is one. */
  readonly taskId: string | undefined;
  /** The task this error is about, when there is one. */
  readonly taskName: string | undefined;

  /**
   * @param options.code - which situation this is. Subclasses pass theirs; spool's own plain
   *   `SpoolError`s are `BACKEND_FAILURE` or `BACKEND_UNREACHABLE`. @default 'BACKEND_FAILURE'
   */
  constructor(message: string, options: SpoolErrorOptions & { readonly code?: SpoolErrorCode } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'BACKEND_FAILURE';
    Object.defineProperty(this, SPOOL_ERROR_BRAND, { value: true });
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
  /** The codes `instanceof NonRetriableError` accepts. */
  static override readonly codes = ['NON_RETRIABLE'] as const;
  override name = 'NonRetriableError';
  declare readonly code: 'NON_RETRIABLE';

  constructor(message: string, options: SpoolErrorOptions = {}) {
    super(message, { ...options, code: 'NON_RETRIABLE' });
  }
}

/**
 * Thrown by a handler to retry the run after `retryAfterMs` (for example the delay a rate-limited
 * API asked for), instead of the task's backoff. Still counts as an attempt. The delay is rounded up
 * to whole seconds and is at most 12 hours (`MAX_RETRY_DELAY_MS`); with no attempts left the run
 * goes dead.
 *
 * @example
 * ```ts
 * if (res.status === 429) throw new RetryAfterError('rate limited', { retryAfterMs: 30_000 });
 * ```
 */
export class RetryAfterError extends SpoolError {
  /** The codes `instanceof RetryAfterError` accepts. */
  static override readonly codes = ['RETRY_AFTER'] as const;
  override name = 'RetryAfterError';
  declare readonly code: 'RETRY_AFTER';
  /** How long to wait before the next attempt, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(message: string, options: SpoolErrorOptions & { readonly retryAfterMs: number }) {
    super(message, { ...options, code: 'RETRY_AFTER' });
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
  /** The codes `instanceof ConfigurationError` accepts. */
  static override readonly codes = ['INVALID_CONFIGURATION'] as const;
  override name = 'ConfigurationError';
  declare readonly code: 'INVALID_CONFIGURATION';

  constructor(message: string, options: SpoolErrorOptions = {}) {
    super(message, { ...options, code: 'INVALID_CONFIGURATION' });
  }
}

/** An issue reported by a Standard Schema, flattened to a path and a message. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** Task arguments did not pass the task's schema (at enqueue: nothing was sent). Not retried. */
export class ValidationError extends SpoolError {
  /** The codes `instanceof ValidationError` accepts. */
  static override readonly codes = ['INVALID_ARGUMENTS'] as const;
  override name = 'ValidationError';
  declare readonly code: 'INVALID_ARGUMENTS';
  /** Every issue the schema reported. */
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, options: ErrorContext & { readonly issues: readonly ValidationIssue[] }) {
    super(message, { ...options, code: 'INVALID_ARGUMENTS' });
    this.issues = options.issues;
  }
}

/**
 * An enqueue was refused, and nothing was sent. The code says why: `PAYLOAD_TOO_LARGE`,
 * `INVALID_ENQUEUE_OPTION` (`orderingKey`, `delaySeconds`, `runAt`), `ARGUMENTS_NOT_JSON`,
 * `UNIQUE_LOCK_CONTENDED` (try again), or `ENQUEUE_REFUSED` (any other reason, such as a middleware
 * refusing the run).
 *
 * @example
 * ```ts
 * throw new EnqueueError(`Task 'orders.charge': the message is 2 MB; the limit is 1 MiB.`, {
 *   code: 'PAYLOAD_TOO_LARGE',
 *   taskName: 'orders.charge',
 * });
 * ```
 */
export class EnqueueError extends SpoolError {
  /** The codes `instanceof EnqueueError` accepts. */
  static override readonly codes = [
    'PAYLOAD_TOO_LARGE',
    'INVALID_ENQUEUE_OPTION',
    'ARGUMENTS_NOT_JSON',
    'UNIQUE_LOCK_CONTENDED',
    'ENQUEUE_REFUSED',
  ] as const;
  override name = 'EnqueueError';
  declare readonly code: EnqueueErrorCode;

  /** @param options.code - why the enqueue was refused. @default 'ENQUEUE_REFUSED' */
  constructor(message: string, options: SpoolErrorOptions & { readonly code?: EnqueueErrorCode } = {}) {
    super(message, { ...options, code: options.code ?? 'ENQUEUE_REFUSED' });
  }
}

/** A run ended without a result (`failed`, `dead` or `cancelled`); thrown by `handle.result()`. */
export class TaskFailedError extends SpoolError {
  /** The codes `instanceof TaskFailedError` accepts. */
  static override readonly codes = ['TASK_FAILED'] as const;
  override name = 'TaskFailedError';
  declare readonly code: 'TASK_FAILED';
  /** The terminal state the run ended in. */
  readonly state: 'failed' | 'dead' | 'cancelled';
  /** The name of the error the handler threw (or spool's reason), when known. */
  readonly errorName: string | undefined;

  constructor(
    message: string,
    options: ErrorContext & { readonly state: 'failed' | 'dead' | 'cancelled'; readonly errorName?: string },
  ) {
    super(message, { ...options, code: 'TASK_FAILED' });
    this.state = options.state;
    this.errorName = options.errorName;
  }
}

/**
 * A value a handler gave spool to store was refused before it was written, on every backend alike:
 * its return value, or a `ctx.progress()` value, that JSON cannot carry faithfully (a bigint, a
 * non-finite number, a circular reference, a `toJSON()` that throws, nesting deeper than
 * `MAX_JSON_DEPTH`), or that is over its size limit (`MAX_PROGRESS_BYTES`, or the record's
 * `MAX_RECORD_BYTES`). Not retriable: the same code gives the same value. A refused result fails
 * the run without retrying (its record's error has this name, and `handle.result()` rejects with a
 * `TaskFailedError` whose `errorName` it is); a refused progress value rejects the `ctx.progress()`
 * promise, and fails the run so only if the handler lets it propagate.
 */
export class InvalidResultError extends SpoolError {
  /** The codes `instanceof InvalidResultError` accepts. */
  static override readonly codes = ['INVALID_RESULT'] as const;
  override name = 'InvalidResultError';
  declare readonly code: 'INVALID_RESULT';
  /** Where in the value, as `$.items[2].amount` (`$` is the whole value, and what a size limit refuses). */
  readonly path: string;

  constructor(message: string, options: SpoolErrorOptions & { readonly path: string }) {
    super(message, { ...options, code: 'INVALID_RESULT' });
    this.path = options.path;
  }
}

/** A wait ran out (for example `handle.result({ timeoutMs })`), or an attempt's soft timeout did. */
export class TimeoutError extends SpoolError {
  /** The codes `instanceof TimeoutError` accepts. */
  static override readonly codes = ['TIMEOUT'] as const;
  override name = 'TimeoutError';
  declare readonly code: 'TIMEOUT';

  constructor(message: string, options: SpoolErrorOptions = {}) {
    super(message, { ...options, code: 'TIMEOUT' });
  }
}

/** A handler ran longer than its hard timeout; the attempt was abandoned and counted as failed. */
export class HardTimeoutError extends SpoolError {
  /** The codes `instanceof HardTimeoutError` accepts. */
  static override readonly codes = ['HARD_TIMEOUT'] as const;
  override name = 'HardTimeoutError';
  declare readonly code: 'HARD_TIMEOUT';

  constructor(message: string, options: SpoolErrorOptions = {}) {
    super(message, { ...options, code: 'HARD_TIMEOUT' });
  }
}

/** `value instanceof family`: by the prototype chain, else by the brand and the family's own `codes`. */
function isInstance(family: ErrorFamily & (abstract new (...args: never[]) => unknown), value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(family, value)) return true;
  if (!isSpoolError(value)) return false;
  if (family === SpoolError) return true;
  return Object.hasOwn(family, 'codes') && family.codes.includes(value.code);
}

/** The class of error each code belongs to, for {@link hasErrorCode}'s narrowing. */
interface ClassOfCode {
  readonly NON_RETRIABLE: NonRetriableError;
  readonly RETRY_AFTER: RetryAfterError;
  readonly INVALID_CONFIGURATION: ConfigurationError;
  readonly INVALID_ARGUMENTS: ValidationError;
  readonly PAYLOAD_TOO_LARGE: EnqueueError;
  readonly INVALID_ENQUEUE_OPTION: EnqueueError;
  readonly ARGUMENTS_NOT_JSON: EnqueueError;
  readonly UNIQUE_LOCK_CONTENDED: EnqueueError;
  readonly ENQUEUE_REFUSED: EnqueueError;
  readonly TASK_FAILED: TaskFailedError;
  readonly INVALID_RESULT: InvalidResultError;
  readonly TIMEOUT: TimeoutError;
  readonly HARD_TIMEOUT: HardTimeoutError;
}

/** The spool error that carries `code`: its class, with `code` narrowed to it. */
export type SpoolErrorOf<C extends SpoolErrorCode> = (C extends keyof ClassOfCode ? ClassOfCode[C] : SpoolError) & {
  readonly code: C;
};

/**
 * Whether `value` is a spool error, made by this copy of spool or by any other one loaded in the
 * process: it carries {@link SPOOL_ERROR_BRAND} and a string `code`. Never reads the message.
 *
 * @example
 * ```ts
 * if (isSpoolError(error)) logger.warn('spool refused', { code: error.code });
 * ```
 */
export function isSpoolError(value: unknown): value is SpoolError {
  if (typeof value !== 'object' || value === null) return false;
  const branded = value as { readonly [SPOOL_ERROR_BRAND]?: unknown; readonly code?: unknown };
  return branded[SPOOL_ERROR_BRAND] === true && typeof branded.code === 'string';
}

/**
 * Whether `value` is a spool error (from any copy of spool) with this code.
 *
 * @example
 * ```ts
 * try {
 *   await producer.enqueue(report, args);
 * } catch (error) {
 *   if (hasErrorCode(error, 'PAYLOAD_TOO_LARGE')) return uploadAndEnqueueKey(args);
 *   throw error;
 * }
 * ```
 */
export function hasErrorCode<C extends SpoolErrorCode>(value: unknown, code: C): value is SpoolErrorOf<C> {
  return isSpoolError(value) && value.code === code;
}

/**
 * Whether spool tries a run again after an attempt ended with each code (attempts left permitting).
 * A code whose run is not retried fails it at once.
 */
const RETRIED: Readonly<Record<SpoolErrorCode, boolean>> = {
  BACKEND_FAILURE: true,
  BACKEND_UNREACHABLE: true,
  NON_RETRIABLE: false,
  RETRY_AFTER: true,
  INVALID_CONFIGURATION: true,
  INVALID_ARGUMENTS: false,
  PAYLOAD_TOO_LARGE: true,
  INVALID_ENQUEUE_OPTION: true,
  ARGUMENTS_NOT_JSON: true,
  UNIQUE_LOCK_CONTENDED: true,
  ENQUEUE_REFUSED: true,
  TASK_FAILED: true,
  INVALID_RESULT: false,
  TIMEOUT: true,
  HARD_TIMEOUT: true,
  ATTEMPT_ABORTED: true,
};

/**
 * Whether an attempt that ended with `error` may be tried again (attempts left permitting): `false`
 * for a {@link NonRetriableError}, a {@link ValidationError} (the arguments will not change) and an
 * {@link InvalidResultError}, from any copy of spool; `true` for every other error, spool's or not.
 * Decided by the code, never by the message.
 *
 * @example
 * ```ts
 * const willRetry = isRetriable(error) && record.attempt < task.retry.maxAttempts;
 * ```
 */
export function isRetriable(error: unknown): boolean {
  if (!isSpoolError(error)) return true;
  return RETRIED[error.code] !== false; // a code from a newer copy of spool: retried, like any error
}

/** Serialisable description of an error, as the store keeps it. */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
  /** The whole message, when `message` was cut to `MAX_ERROR_MESSAGE_BYTES`: a blob (`lib/backend/blobs.ts`). */
  readonly messageRef?: BlobRef;
}

/**
 * Reduce any thrown value to `{ name, message }` without reflection on class names. Never throws,
 * whatever was thrown (a value whose getters or `toString` throw, a cycle, a deep array), and the
 * result fits a record: it is {@link boundErrorInfo}'s.
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  try {
    if (error instanceof Error) {
      const { name, message } = error;
      return boundErrorInfo({
        name: typeof name === 'string' && name !== '' ? name : 'Error',
        message: typeof message === 'string' ? message : safeJson(message),
      });
    }
    return boundErrorInfo(reasonError('NonErrorThrown', typeof error === 'string' ? error : safeJson(error)));
  } catch {
    return reasonError('NonErrorThrown', 'the handler threw a value that could not be read (reading it threw)');
  }
}

/**
 * `info` as a record stores it: the name cut to `MAX_ERROR_NAME_LENGTH` characters, the message to
 * `MAX_ERROR_MESSAGE_BYTES` bytes of UTF-8 (never inside a character), ending with a note of its
 * full size and the limit. Short ones (all but a few) are returned as they are.
 *
 * @example
 * ```ts
 * boundErrorInfo({ name: 'Error', message: 'x'.repeat(500_000) }).message;
 * // 'xxx...x ... [cut: the message is 500000 bytes; spool stores error messages up to 8192 bytes (MAX_ERROR_MESSAGE_BYTES)]'
 * ```
 */
export function boundErrorInfo(info: ErrorInfo): ErrorInfo {
  const name = info.name.length > MAX_ERROR_NAME_LENGTH ? info.name.slice(0, MAX_ERROR_NAME_LENGTH) : info.name;
  const message = boundMessage(info.message);
  return name === info.name && message === info.message ? info : { name, message };
}

/** A UTF-16 code unit is at most 3 bytes of UTF-8. */
const MAX_UTF8_BYTES_PER_UNIT = 3;

function boundMessage(message: string): string {
  if (message.length * MAX_UTF8_BYTES_PER_UNIT <= MAX_ERROR_MESSAGE_BYTES) return message;
  const utf8 = new TextEncoder().encode(message);
  if (utf8.length <= MAX_ERROR_MESSAGE_BYTES) return message;
  const note = ` ... [cut: the message is ${utf8.length} bytes; spool stores error messages up to ${MAX_ERROR_MESSAGE_BYTES} bytes (MAX_ERROR_MESSAGE_BYTES)]`;
  // The note is ASCII: its length is its size (so a cut message is never cut again). Back off to the first byte of a character cut in two.
  let end = MAX_ERROR_MESSAGE_BYTES - note.length;
  while (end > 0 && ((utf8[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(utf8.subarray(0, end)) + note;
}

/**
 * A thrown value as text, never throwing again (a value whose `toString` throws, or a deep array,
 * whose `toString` runs out of stack, gives its `Object.prototype.toString` tag).
 */
export function describeThrown(error: unknown): string {
  try {
    return String(error);
  } catch {
    try {
      return Object.prototype.toString.call(error);
    } catch {
      return 'a value that could not be read';
    }
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? describeThrown(value);
  } catch {
    return describeThrown(value);
  }
}
