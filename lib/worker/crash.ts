/**
 * Crashes: errors that escape a handler (`uncaughtException`, `unhandledRejection`), told apart
 * by the attempt that caused them.
 *
 * Every attempt runs its work inside one `AsyncLocalStorage` context holding the attempt
 * ({@link runInAttemptScope}); Node gives an `uncaughtException` or `unhandledRejection` listener
 * the context of the code that threw or made the rejected promise (a timer, `setImmediate`,
 * `process.nextTick` or a floating promise the handler started), so the listener knows the cause:
 *
 * - **Attributed** (the context names an attempt still running): that attempt fails with an
 *   {@link UnhandledError} (retried per its task's retry policy), logged at error with its task id,
 *   name and attempt. The worker goes on. An attempt that had already ended (a floating promise that
 *   rejects after the handler returned) is logged, and its recorded outcome stands.
 * - **Not attributed** (no attempt's context: code started outside any handler): when nothing else
 *   in the process listens for the event, every worker that handles crashes stops receiving, ends
 *   its attempts in flight as failed with a {@link WorkerCrashedError} (counted against
 *   `maxAttempts`: one of them may be the cause, and a run whose attempts keep ending so ends dead
 *   with that reason), flushes its acknowledgements, and the process exits with code 1, within
 *   {@link CRASH_RELEASE_MS}. When the process has other listeners, they decide: spool logs it.
 *
 * The listeners are installed while a worker with `crashes` on runs (`spool.worker()` and the CLI
 * turn it on), and removed when the last one stops. A hard crash (SIGKILL, out of memory, a native
 * abort) runs no listener: the run's lease expires and the next claim takes it over, counting the
 * lost attempt (see `exhaustedReason` in `./processor.ts`).
 *
 * @module
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../log/logger.js';
import { describeThrown } from '../task/errors.js';

/** Where an escaped error came from: the process event that reported it. */
export type CrashOrigin = 'uncaughtException' | 'unhandledRejection';

/** The method an attempt in scope answers: fail with `error` if still running (`true`), else `false`. */
export const FAIL_ESCAPED: unique symbol = Symbol('spool.failEscaped');

/** What the attempt context holds: the attempt, as the crash listeners see it. */
export interface ScopedAttempt {
  readonly taskId: string;
  readonly taskName: string;
  readonly attempt: number;
  /** The attempt's logger (it carries `taskId`, `task` and `attempt`). */
  readonly logger: Logger;
  [FAIL_ESCAPED](error: UnhandledError): boolean;
}

/** The one context of the process that names the attempt running (see the module's header). */
const attemptScope = new AsyncLocalStorage<ScopedAttempt>();

/** Run `work(attempt)` in `attempt`'s context: what it starts (timers, promises) is attributed to it. */
export function runInAttemptScope<A extends ScopedAttempt>(attempt: A, work: (attempt: A) => void): void {
  attemptScope.run(attempt, work, attempt);
}

/**
 * An error escaped an attempt's handler: thrown in a callback or timer it started, or a promise it
 * made was rejected and never handled. Retriable; `cause` is the thrown value.
 */
export class UnhandledError extends Error {
  override name = 'UnhandledError';
  readonly taskId: string;
  readonly taskName: string;

  constructor(thrown: unknown, origin: CrashOrigin, context: { readonly taskId: string; readonly taskName: string }) {
    super(
      `${describeValue(thrown)} (${
        origin === 'uncaughtException'
          ? 'thrown outside the handler: an uncaught exception in a callback or timer this attempt started'
          : 'a promise this attempt made was rejected and never handled'
      }; the attempt failed with it)`,
      { cause: thrown },
    );
    this.taskId = context.taskId;
    this.taskName = context.taskName;
  }
}

/**
 * The worker process crashed while this attempt ran, with an error no attempt could be blamed for
 * (code started outside any handler). Retriable, and counted against `maxAttempts`.
 */
export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashed';

  constructor(thrown: unknown, origin: CrashOrigin) {
    super(
      `the worker process crashed while this attempt ran: ${describeValue(thrown)} (an ${
        origin === 'uncaughtException' ? 'uncaught exception' : 'unhandled rejection'
      } outside any attempt, so it may or may not be this run's doing); the attempt counts against maxAttempts`,
      { cause: thrown },
    );
  }
}

/** `TypeError: boom` for an Error, `a non-Error value was thrown: "text"` for anything else. */
export function describeValue(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return `${thrown.name || 'Error'}: ${thrown.message}`;
    let text: string | undefined;
    try {
      text = typeof thrown === 'bigint' ? `${thrown}n` : JSON.stringify(thrown);
    } catch {
      // a cycle, a throwing toJSON: its text
    }
    return `a non-Error value was thrown: ${text ?? describeThrown(thrown)}`;
  } catch {
    return 'a value that could not be read was thrown';
  }
}

/** How long an unattributed crash may take to release what the workers hold before the process exits, ms. */
export const CRASH_RELEASE_MS = 5000;

/** What a worker that handles crashes gives the crash listeners. */
export interface CrashHandling {
  readonly logger: Logger;
  /**
   * Stop receiving, fail the attempts in flight with `error` (a {@link WorkerCrashedError}), flush
   * acknowledgements; resolves once done.
   */
  release(error: WorkerCrashedError): Promise<void>;
}

/** The workers handling crashes now. */
const workers = new Set<CrashHandling>();
/** Set by the first unattributed crash: the process is exiting. */
let crashed: WorkerCrashedError | undefined;

/** Whether the process is exiting after an unattributed crash (attempts that start now are released). */
export function hasCrashed(): boolean {
  return crashed !== undefined;
}

/**
 * Handle crashes for `worker` while it runs (see the module's header). Returns the function that
 * takes it off; the listeners go with the last worker.
 */
export function handleCrashes(worker: CrashHandling): () => void {
  if (workers.size === 0) {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
  }
  workers.add(worker);
  return () => {
    if (!workers.delete(worker) || workers.size > 0) return;
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  };
}

function onUncaught(error: unknown, origin?: string): void {
  // Node gives `unhandledRejection` as the origin when it raised a rejection as an exception.
  escaped(error, origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException');
}

function onRejection(reason: unknown): void {
  escaped(reason, 'unhandledRejection');
}

/** A listener must never throw (that would end the process at once): log lines are guarded. */
function log(logger: Logger, level: 'error' | 'warn', message: string, fields: Record<string, unknown>): void {
  try {
    logger[level](message, fields);
  } catch {
    // the logger failed; nothing else can report it
  }
}

function escaped(thrown: unknown, origin: CrashOrigin): void {
  const attempt = attemptScope.getStore();
  if (attempt !== undefined) {
    const error = new UnhandledError(thrown, origin, attempt);
    if (attempt[FAIL_ESCAPED](error)) {
      log(attempt.logger, 'error', 'an error escaped the handler; the attempt failed with it', {
        origin,
        error: { name: error.name, message: error.message },
      });
    } else {
      log(
        attempt.logger,
        'error',
        'an error escaped the handler after its attempt ended; the recorded outcome stands',
        {
          origin,
          error: { name: error.name, message: error.message },
        },
      );
    }
    return;
  }
  const loggers = [...workers].map((w) => w.logger);
  const fields = { origin, error: describeValue(thrown) };
  if (othersListen(origin)) {
    for (const logger of loggers) {
      log(logger, 'error', `${origin} outside any attempt; the process's other listeners handle it`, fields);
    }
    // Without spool's listener, Node would have raised the rejection as an uncaught exception.
    if (origin === 'unhandledRejection' && process.listenerCount('unhandledRejection') === 1) {
      for (const listener of process.listeners('uncaughtException')) {
        if (listener !== onUncaught) listener.call(process, asError(thrown), 'unhandledRejection');
      }
    }
    return;
  }
  if (origin === 'unhandledRejection' && !rejectionsCrash()) {
    for (const logger of loggers) log(logger, 'warn', 'unhandled rejection outside any attempt', fields);
    return;
  }
  if (crashed !== undefined) {
    for (const logger of loggers) log(logger, 'error', `another ${origin} while releasing after a crash`, fields);
    return;
  }
  crashed = new WorkerCrashedError(thrown, origin);
  for (const logger of loggers) {
    log(logger, 'error', `${origin} outside any attempt: the worker stops, releases what it holds and exits (code 1)`, {
      ...fields,
      releaseMs: CRASH_RELEASE_MS,
    });
  }
  const error = crashed;
  process.exitCode = 1; // also if the process ends on its own first
  const exit = () => process.exit(1);
  setTimeout(exit, CRASH_RELEASE_MS).unref();
  void Promise.allSettled([...workers].map((w) => w.release(error))).then(exit);
}

/** Whether a listener other than spool's handles `origin` (Node's default behaviour is then not spool's to give). */
function othersListen(origin: CrashOrigin): boolean {
  const others = (event: CrashOrigin) => process.listenerCount(event) - 1;
  return origin === 'uncaughtException'
    ? others('uncaughtException') > 0
    : others('unhandledRejection') > 0 || others('uncaughtException') > 0;
}

/** Whether, without spool, an unhandled rejection would end the process (`--unhandled-rejections`: throw or strict, the default). */
function rejectionsCrash(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const mode = flags
    .map((flag) => /^--unhandled-rejections=(.+)$/.exec(flag)?.[1])
    .filter((m) => m !== undefined)
    .at(-1);
  return mode === undefined || mode === 'throw' || mode === 'strict';
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(describeValue(value), { cause: value });
}
