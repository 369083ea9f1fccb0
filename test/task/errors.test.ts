/**
 * Error codes and the brand (lib/task/errors.ts): every error carries a stable code; errors are
 * recognised by the `Symbol.for` brand and the code, so a copy of spool from another bundle (a
 * second instance of the module, the CommonJS build, or an object built the way one would build
 * it) is recognised by `isSpoolError`, `hasErrorCode`, `instanceof` and `isRetriable`; and the
 * table in docs/errors.md says what the code does.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { HTTP_STATUS_BY_ERROR_CODE } from '../../lib/aws/http-api.js';
import { EXIT_BY_ERROR_CODE, UNEXPECTED_ERROR_CODES } from '../../lib/cli/report.js';
import type * as errors from '../../lib/task/errors.js';
import {
  ConfigurationError,
  EnqueueError,
  HardTimeoutError,
  hasErrorCode,
  InvalidResultError,
  isRetriable,
  isSpoolError,
  NonRetriableError,
  RetryAfterError,
  SPOOL_ERROR_BRAND,
  SPOOL_ERROR_CODES,
  SpoolError,
  type SpoolErrorCode,
  TaskFailedError,
  TimeoutError,
  ValidationError,
} from '../../lib/task/errors.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** An error as another copy of spool makes it: a plain Error with the shared brand and a code. */
function fromAnotherBundle(code: string, name = 'SomeError', extra: Record<string, unknown> = {}): Error {
  const error = Object.assign(new Error(`from another bundle: ${code}`), { name, code, ...extra });
  Object.defineProperty(error, Symbol.for('spool-tasks.error'), { value: true });
  return error;
}

/** One error of each class, made with the constructor signatures spool's call sites use. */
const made = [
  [new SpoolError('DynamoDB returned no record'), SpoolError, 'BACKEND_FAILURE'],
  [
    new SpoolError('cannot reach sqs', { code: 'BACKEND_UNREACHABLE', cause: new Error('ECONNREFUSED') }),
    SpoolError,
    'BACKEND_UNREACHABLE',
  ],
  [new NonRetriableError('card declined'), NonRetriableError, 'NON_RETRIABLE'],
  [new RetryAfterError('429', { retryAfterMs: 1500 }), RetryAfterError, 'RETRY_AFTER'],
  [new ConfigurationError('SPOOL_TABLE is not set', { taskName: 't' }), ConfigurationError, 'INVALID_CONFIGURATION'],
  [new ValidationError('bad', { issues: [{ path: 'a', message: 'b' }] }), ValidationError, 'INVALID_ARGUMENTS'],
  [new EnqueueError('refused by a middleware'), EnqueueError, 'ENQUEUE_REFUSED'],
  [new EnqueueError('too large', { code: 'PAYLOAD_TOO_LARGE', taskId: 'i' }), EnqueueError, 'PAYLOAD_TOO_LARGE'],
  [new EnqueueError('bad ordering key', { code: 'INVALID_ENQUEUE_OPTION' }), EnqueueError, 'INVALID_ENQUEUE_OPTION'],
  [new EnqueueError('a bigint', { code: 'ARGUMENTS_NOT_JSON' }), EnqueueError, 'ARGUMENTS_NOT_JSON'],
  [new EnqueueError('lock moved', { code: 'UNIQUE_LOCK_CONTENDED' }), EnqueueError, 'UNIQUE_LOCK_CONTENDED'],
  [new TaskFailedError('ended dead', { state: 'dead', errorName: 'X' }), TaskFailedError, 'TASK_FAILED'],
  [new InvalidResultError('a bigint', { path: '$.n' }), InvalidResultError, 'INVALID_RESULT'],
  [new TimeoutError('waited 10 ms', { taskId: 'i' }), TimeoutError, 'TIMEOUT'],
  [new HardTimeoutError('ran 5 s'), HardTimeoutError, 'HARD_TIMEOUT'],
] as const;

/** Every class with codes of its own, to check no class claims another's error. */
const CLASSES = [
  NonRetriableError,
  RetryAfterError,
  ConfigurationError,
  ValidationError,
  EnqueueError,
  TaskFailedError,
  InvalidResultError,
  TimeoutError,
  HardTimeoutError,
] as const;

describe('GIVEN the errors of this copy of spool', () => {
  it.each(made)(
    'WHEN %s is made THEN it carries its code and brand, and instanceof matches its class only',
    (error, cls, code) => {
      expect(error.code).toBe(code);
      expect(error[SPOOL_ERROR_BRAND]).toBe(true);
      expect(isSpoolError(error)).toBe(true);
      expect(hasErrorCode(error, code)).toBe(true);
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(SpoolError);
      expect(error).toBeInstanceOf(cls);
      for (const other of CLASSES) if (other !== cls) expect(error instanceof other).toBe(false);
    },
  );

  it('WHEN every class is listed THEN the codes they claim cover every code exactly once, but the two of the worker', () => {
    const claimed = [...CLASSES.flatMap((cls) => cls.codes), 'BACKEND_FAILURE', 'BACKEND_UNREACHABLE'];
    // ATTEMPT_ABORTED belongs to AttemptAbortedError (lib/worker/attempt.ts).
    expect(claimed.sort()).toEqual(SPOOL_ERROR_CODES.filter((c) => c !== 'ATTEMPT_ABORTED').sort());
  });

  it('WHEN an error is serialised or logged THEN the brand stays out of sight and the code is in', () => {
    const error = new EnqueueError('too large', { code: 'PAYLOAD_TOO_LARGE' });
    expect(Object.keys(error)).not.toContain(SPOOL_ERROR_BRAND);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: 'EnqueueError', code: 'PAYLOAD_TOO_LARGE' });
  });

  it('WHEN hasErrorCode is true THEN the type narrows to the class of the code', () => {
    const error: unknown = new ValidationError('bad', { issues: [] });
    if (hasErrorCode(error, 'INVALID_ARGUMENTS'))
      expectTypeOf(error.issues).toEqualTypeOf<readonly errors.ValidationIssue[]>();
    if (hasErrorCode(error, 'PAYLOAD_TOO_LARGE')) expectTypeOf(error).toExtend<EnqueueError>();
    expect(hasErrorCode(error, 'PAYLOAD_TOO_LARGE')).toBe(false);
  });

  it('WHEN a value is not a spool error THEN nothing mistakes it for one, whatever its name or code', () => {
    const lookalikes: unknown[] = [
      Object.assign(new Error('no such file'), { code: 'ENOENT' }),
      Object.assign(new Error('same name'), { name: 'NonRetriableError', code: 'NON_RETRIABLE' }),
      { code: 'NON_RETRIABLE' },
      'NON_RETRIABLE',
      null,
      undefined,
    ];
    for (const value of lookalikes) {
      expect(isSpoolError(value)).toBe(false);
      expect(hasErrorCode(value, 'NON_RETRIABLE')).toBe(false);
      expect(value instanceof SpoolError || value instanceof NonRetriableError).toBe(false);
      expect(isRetriable(value)).toBe(true);
    }
  });

  it('WHEN retriability is asked THEN only NonRetriableError, ValidationError and InvalidResultError are not retried', () => {
    const notRetried = made.filter(([error]) => !isRetriable(error)).map(([, cls]) => cls);
    expect(notRetried).toEqual([NonRetriableError, ValidationError, InvalidResultError]);
    expect(isRetriable(new Error('boom'))).toBe(true);
    expect(isRetriable('a string thrown')).toBe(true);
  });

  it('WHEN a class of the user extends SpoolError without codes of its own THEN instanceof it is its prototype chain', () => {
    class PaymentDeclined extends SpoolError {
      override name = 'PaymentDeclined';
    }
    const error = new PaymentDeclined('declined');
    expect(error).toBeInstanceOf(PaymentDeclined);
    expect(error).toBeInstanceOf(SpoolError);
    expect(new SpoolError('other') instanceof PaymentDeclined).toBe(false);
    expect(fromAnotherBundle('BACKEND_FAILURE') instanceof PaymentDeclined).toBe(false);
  });
});

describe('GIVEN an error made by another copy of spool', () => {
  it('WHEN it is a plain Error with the brand and NON_RETRIABLE THEN it is recognised, as that class and as not retriable', () => {
    const error: unknown = fromAnotherBundle('NON_RETRIABLE', 'NonRetriableError');
    expect(isSpoolError(error)).toBe(true);
    expect(hasErrorCode(error, 'NON_RETRIABLE')).toBe(true);
    expect(error).toBeInstanceOf(SpoolError);
    expect(error).toBeInstanceOf(NonRetriableError);
    expect(error instanceof RetryAfterError || error instanceof ValidationError).toBe(false);
    expect(isRetriable(error)).toBe(false);
  });

  it('WHEN it is a RetryAfterError THEN instanceof recognises it and its delay reads as usual', () => {
    const error: unknown = fromAnotherBundle('RETRY_AFTER', 'RetryAfterError', { retryAfterMs: 30_000 });
    expect(error instanceof RetryAfterError ? error.retryAfterMs : undefined).toBe(30_000);
    expect(isRetriable(error)).toBe(true);
  });

  it('WHEN its code is one this copy does not know (a newer copy) THEN it is a SpoolError of no subclass, and retried', () => {
    const error: unknown = fromAnotherBundle('SOMETHING_NEW');
    expect(isSpoolError(error)).toBe(true);
    expect(error).toBeInstanceOf(SpoolError);
    for (const cls of CLASSES) expect(error instanceof cls).toBe(false);
    expect(isRetriable(error)).toBe(true);
  });

  it('WHEN the module is loaded a second time (a second bundle) THEN each copy recognises the other', async () => {
    const specifier = new URL('../../lib/task/errors.ts?another-bundle', import.meta.url).href;
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof errors;
    expect(copy.NonRetriableError).not.toBe(NonRetriableError);
    const theirs = new copy.NonRetriableError('card declined');
    expect(theirs).toBeInstanceOf(NonRetriableError);
    expect(theirs instanceof RetryAfterError).toBe(false);
    expect(isRetriable(theirs)).toBe(false);
    expect(new ValidationError('bad', { issues: [] })).toBeInstanceOf(copy.ValidationError);
    expect(copy.hasErrorCode(new EnqueueError('x', { code: 'PAYLOAD_TOO_LARGE' }), 'PAYLOAD_TOO_LARGE')).toBe(true);
  });

  it('WHEN it comes from the CommonJS build THEN the ESM source recognises it, and the other way round', () => {
    const cjs = createRequire(import.meta.url)(join(ROOT, 'dist/cjs/lib/task/errors.js')) as typeof errors;
    const theirs = new cjs.ValidationError('bad', { issues: [{ path: 'a', message: 'b' }] });
    expect(theirs).toBeInstanceOf(ValidationError);
    expect(isRetriable(theirs)).toBe(false);
    expect(hasErrorCode(theirs, 'INVALID_ARGUMENTS') && theirs.issues).toEqual([{ path: 'a', message: 'b' }]);
    expect(new TimeoutError('waited')).toBeInstanceOf(cjs.TimeoutError);
    expect(cjs.isSpoolError(new SpoolError('x'))).toBe(true);
  });
});

describe('GIVEN the table of codes in docs/errors.md', () => {
  /** The table's rows: code, class, meaning, retriable, HTTP status, CLI exit code. */
  const rows = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
    .split('\n')
    .filter((line) => /^\| `[A-Z_]+` +\|/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );

  it('WHEN it is read THEN it lists every code once, in the order of SPOOL_ERROR_CODES', () => {
    expect(rows.map((row) => row[0])).toEqual(SPOOL_ERROR_CODES.map((code) => `\`${code}\``));
  });

  it.each(SPOOL_ERROR_CODES.map((code, i) => [code, i] as const))(
    'WHEN the row of %s is read THEN its class, retriable, HTTP status and exit code are what the code does',
    (code: SpoolErrorCode, i) => {
      const [, cls, , retriable, http, exit] = rows[i] ?? [];
      const error = fromAnotherBundle(code);
      const owner = CLASSES.find((c) => error instanceof c);
      expect(cls).toBe(`\`${owner?.name ?? (code === 'ATTEMPT_ABORTED' ? 'AttemptAbortedError' : 'SpoolError')}\``);
      expect(retriable).toMatch(isRetriable(error) ? /^yes/ : /^no/);
      expect(http).toMatch(new RegExp(`^${HTTP_STATUS_BY_ERROR_CODE[code]}\\b`));
      expect(exit).toMatch(new RegExp(`^${EXIT_BY_ERROR_CODE[code]}\\b`));
      expect(String(exit).includes('unexpected')).toBe(UNEXPECTED_ERROR_CODES.has(code));
    },
  );
});
