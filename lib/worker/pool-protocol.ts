/**
 * The messages between the handler pool (`./pool.ts`, the worker's main thread) and its members
 * (`./pool-member.ts`), and how an error crosses between them: its name, message, stack, `code`
 * and other own data survive, and a spool error is rebuilt branded with its code, so
 * `isRetriable`, `instanceof NonRetriableError` and `RetryAfterError`'s `retryAfterMs` decide
 * exactly as they would for the error itself.
 *
 * @module
 */

import type { LogFields, LogLevel } from '../log/logger.js';
import { describeThrown, isSpoolError, RetryAfterError, SpoolError, type SpoolErrorCode } from '../task/errors.js';

/** An error (or any thrown value) as it crosses a thread or process boundary. */
export interface WireError {
  /** A thrown value that was not an `Error`: its text (it is rethrown as that string). */
  readonly thrown?: string;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** The error's `code`, when it is a string (a spool code, or `ENOENT`…). */
  readonly code?: string;
  /** Whether it was a spool error (branded): it is rebuilt as one, with its code. */
  readonly spool: boolean;
  /** Own enumerable properties that survive a structured clone (`retryAfterMs`, `path`, `taskId`…). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Messages to a member. */
export type ToMember =
  | {
      readonly type: 'init';
      /** The app module, a `file:` URL. */
      readonly app: string;
      readonly exportName?: string;
      /** tsx's `tsx/esm/api` module, to import a TypeScript app from a thread. */
      readonly tsx?: string;
    }
  | {
      readonly type: 'run';
      readonly call: number;
      readonly task: string;
      readonly args: unknown;
      readonly taskId: string;
      readonly attempt: number;
      readonly maxAttempts: number;
    }
  /** Abort the running handler's `ctx.signal` (a soft timeout, a cancel). */
  | { readonly type: 'abort'; readonly call: number; readonly reason: WireError }
  | { readonly type: 'progress-done'; readonly call: number; readonly seq: number; readonly error?: WireError }
  | { readonly type: 'close' };

/** Messages from a member. */
export type FromMember =
  | { readonly type: 'ready' }
  | { readonly type: 'init-failed'; readonly error: WireError }
  | { readonly type: 'progress'; readonly call: number; readonly seq: number; readonly value: unknown }
  | {
      readonly type: 'log';
      readonly call: number;
      readonly level: Exclude<LogLevel, 'silent'>;
      readonly message: string;
      readonly fields?: LogFields;
    }
  /** The handler returned: its result as JSON text (absent for `undefined` or `ignoreResult`). */
  | { readonly type: 'done'; readonly call: number; readonly json?: string }
  | { readonly type: 'threw'; readonly call: number; readonly error: WireError };

/** `error` as it crosses the boundary. Never throws. */
export function toWire(error: unknown): WireError {
  try {
    if (!(error instanceof Error)) return { thrown: describeThrown(error), name: 'Error', message: '', spool: false };
    const code = (error as { code?: unknown }).code;
    const extra: Record<string, unknown> = {};
    for (const key of Object.keys(error)) {
      if (key === 'name' || key === 'message' || key === 'stack' || key === 'code' || key === 'cause') continue;
      const value = (error as unknown as Record<string, unknown>)[key];
      if (typeof value === 'function') continue;
      try {
        extra[key] = structuredClone(value);
      } catch {
        // not cloneable: left out
      }
    }
    return {
      name: typeof error.name === 'string' && error.name !== '' ? error.name : 'Error',
      message: typeof error.message === 'string' ? error.message : describeThrown(error.message),
      ...(typeof error.stack === 'string' ? { stack: error.stack } : {}),
      ...(typeof code === 'string' ? { code } : {}),
      spool: isSpoolError(error),
      ...(Object.keys(extra).length === 0 ? {} : { extra }),
    };
  } catch {
    return { name: 'Error', message: 'the handler threw a value that could not be read', spool: false };
  }
}

/** The error {@link toWire} described, rebuilt on this side (a string for a non-`Error` throw). */
export function fromWire(wire: WireError): unknown {
  if (wire.thrown !== undefined) return wire.thrown;
  let error: Error;
  if (wire.spool && wire.code !== undefined) {
    const extra = wire.extra ?? {};
    const context = {
      ...(typeof extra.taskId === 'string' ? { taskId: extra.taskId } : {}),
      ...(typeof extra.taskName === 'string' ? { taskName: extra.taskName } : {}),
    };
    error =
      wire.code === 'RETRY_AFTER' && typeof extra.retryAfterMs === 'number'
        ? new RetryAfterError(wire.message, { ...context, retryAfterMs: extra.retryAfterMs })
        : new SpoolError(wire.message, { ...context, code: wire.code as SpoolErrorCode });
  } else {
    error = new Error(wire.message);
    if (wire.code !== undefined) Object.assign(error, { code: wire.code });
  }
  for (const [key, value] of Object.entries(wire.extra ?? {})) {
    if (Object.hasOwn(error, key)) continue; // what the constructor set stands
    Object.assign(error, { [key]: value });
  }
  error.name = wire.name;
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
