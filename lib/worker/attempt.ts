/**
 * One attempt: run the handler under its lease (heartbeat), its timeouts and its middleware.
 *
 * @module
 */

import type { TaskRecord, TaskStore } from '../backend/store.js';
import type { Middleware, RunEvent } from '../client/middleware.js';
import type { Logger } from '../log/logger.js';
import type { AnyTask, TaskContext } from '../task/define.js';
import { HardTimeoutError, SpoolError, TimeoutError } from '../task/errors.js';
import { validateArgsNow } from '../task/schema.js';
import { leaseLength } from './lease.js';

/** Why an attempt's signal was aborted by spool (the handler sees it as `signal.reason`). */
export class AttemptAbortedError extends SpoolError {
  override name = 'AttemptAbortedError';
  /** `cancelled` by `cancel()`, `lease-lost`, or `shutdown` of the worker. */
  readonly why: 'cancelled' | 'lease-lost' | 'shutdown';

  constructor(why: 'cancelled' | 'lease-lost' | 'shutdown', context: { taskId: string; taskName: string }) {
    super(
      why === 'cancelled'
        ? 'the run was cancelled'
        : why === 'lease-lost'
          ? 'the lease on the run was lost (another worker took it over)'
          : 'the worker is shutting down',
      context,
    );
    this.why = why;
  }
}

/** How an attempt ended. */
export type AttemptOutcome =
  | { readonly kind: 'succeeded'; readonly result: unknown; readonly durationMs: number }
  | {
      readonly kind: 'threw';
      readonly error: unknown;
      readonly durationMs: number;
      readonly aborted?: AttemptAbortedError;
    };

/** What {@link runAttempt} needs. */
export interface AttemptInput {
  readonly task: AnyTask;
  readonly record: TaskRecord;
  readonly rawArgs: unknown;
  readonly store: TaskStore;
  /** The attempt's logger (it already carries `taskId`, `task` and `attempt`). */
  readonly logger: Logger;
  readonly middleware: readonly Middleware[];
  readonly now: () => number;
  /** Aborts when the runtime wants the attempt to stop (worker shutdown, Lambda deadline). */
  readonly stop: AbortSignal;
  /** Keep the message hidden while the attempt runs; called with each heartbeat. */
  readonly extendVisibility: (seconds: number) => Promise<void>;
  /** Latest moment the attempt may run to (Lambda's remaining time), epoch ms. */
  readonly deadline?: number;
}

/** Soft timeout this long before the runtime's deadline, so the handler can wind down, ms. */
const SOFT_BEFORE_DEADLINE_MS = 3000;

/**
 * Run one attempt. Never rejects: errors come back as `threw`.
 *
 * The attempt settles once, on the first of: the work ends (validation, `beforeRun` hooks, the
 * handler), the hard timeout fires, or an interrupt (worker shutdown, lease lost) — the last two
 * abandon the handler, which may still be running. Per attempt this costs one promise for the
 * outcome, one heartbeat timer, and the handler's `AbortController` only if it reads `ctx.signal`.
 */
export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const { task, record, store, now } = input;
  const owner = record.leaseOwner ?? '';
  const logger = input.logger;
  const context = { taskId: record.id, taskName: task.name };
  const started = Date.now();
  let aborted: AttemptAbortedError | undefined;
  // The handler's signal, made when the handler first reads `ctx.signal` (most never do); an abort
  // before that is remembered and the signal is born aborted with the same reason.
  let controller: AbortController | undefined;
  let abortReason: Error | undefined;
  const abort = (reason: Error) => {
    if (abortReason !== undefined) return;
    abortReason = reason;
    controller?.abort(reason);
  };
  // How the attempt ends: set once by whichever comes first (see above).
  let settle!: (outcome: { result: unknown; event: RunEvent | undefined } | { error: unknown }) => void;
  const settled = new Promise<{ result: unknown; event: RunEvent | undefined } | { error: unknown }>((resolve) => {
    let done = false;
    settle = (outcome) => {
      if (done) return;
      done = true;
      resolve(outcome);
    };
  });
  // Shutdown and a lost lease end the attempt at once, even when the signal was already aborted
  // (by the soft timeout) and the handler ignores it; a cancel only aborts the signal.
  const abortFor = (why: AttemptAbortedError['why']) => {
    const error = new AttemptAbortedError(why, context);
    if (aborted === undefined || (why !== 'cancelled' && aborted.why === 'cancelled')) aborted = error;
    abort(error);
    if (why !== 'cancelled') settle({ error });
  };
  const onStop = () => abortFor('shutdown');
  input.stop.addEventListener('abort', onStop, { once: true });
  if (input.stop.aborted) onStop();

  // Heartbeat: renew the lease (and the message's visibility) every third of the lease.
  let pendingProgress: string | undefined;
  const beat = async () => {
    const progress = pendingProgress;
    pendingProgress = undefined;
    const at = now();
    const result = await store.heartbeat({
      id: record.id,
      owner,
      now: at,
      leaseMs: leaseLength(task, at, input.deadline),
      ...(progress === undefined ? {} : { progress }),
      ...(record.singletonKey === undefined ? {} : { singletonKey: record.singletonKey }),
    });
    if (result.outcome === 'lost') abortFor('lease-lost');
    else if (result.cancelRequested) abortFor('cancelled');
    await input.extendVisibility(task.leaseSeconds);
  };
  const heartbeat = setInterval(
    () => {
      beat().catch((error: unknown) => logger.warn('heartbeat failed; will try again', { error }));
    },
    (task.leaseSeconds * 1000) / 3,
  );

  const softMs = minDefined(
    task.timeout.softMs,
    input.deadline === undefined ? undefined : input.deadline - now() - SOFT_BEFORE_DEADLINE_MS,
  );
  const softTimer =
    softMs === undefined
      ? undefined
      : setTimeout(
          () => abort(new TimeoutError(`soft timeout: the attempt ran ${Math.round(softMs)} ms`, context)),
          Math.max(0, softMs),
        );
  const hardMs = task.timeout.hardMs;
  const hardTimer =
    hardMs === undefined
      ? undefined
      : setTimeout(() => {
          const error = new HardTimeoutError(
            `hard timeout: the attempt ran longer than ${hardMs} ms and was abandoned. Make the handler honour ctx.signal, or raise timeout.hardMs.`,
            context,
          );
          abort(error);
          settle({ error });
        }, hardMs);
  const ctx: TaskContext = {
    taskId: record.id,
    taskName: task.name,
    attempt: record.attempt,
    maxAttempts: task.retry.maxAttempts,
    get signal() {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortReason !== undefined) controller.abort(abortReason);
      }
      return controller.signal;
    },
    logger,
    async progress(value) {
      pendingProgress = JSON.stringify(value ?? null);
      await beat();
    },
  };

  try {
    // A handler that ends after the attempt was abandoned settles nothing (`settle` runs once).
    runWork(input, ctx).then(settle, (error: unknown) => settle({ error }));
    const outcome = await settled;
    if ('error' in outcome) {
      const error = outcome.error;
      return { kind: 'threw', error, durationMs: Date.now() - started, ...(aborted === undefined ? {} : { aborted }) };
    }
    const durationMs = Date.now() - started;
    const { result, event } = outcome;
    if (event !== undefined) {
      await callHooks(input.middleware, logger, (m) => m.afterRun?.({ ...event, result, durationMs }));
    }
    // A cancel that arrives after the work is done is too late: the success stands.
    return { kind: 'succeeded', result, durationMs };
  } finally {
    clearInterval(heartbeat);
    if (softTimer !== undefined) clearTimeout(softTimer);
    if (hardTimer !== undefined) clearTimeout(hardTimer);
    input.stop.removeEventListener('abort', onStop);
  }
}

/**
 * The attempt's work: validate the arguments (synchronously when the schema is), run the
 * `beforeRun` hooks, then the handler. `event` is set when there is middleware to tell.
 */
async function runWork(
  input: AttemptInput,
  ctx: TaskContext,
): Promise<{ result: unknown; event: RunEvent | undefined }> {
  const { task, record } = input;
  const validation = { taskName: task.name, taskId: record.id, when: 'run' } as const;
  const checked = validateArgsNow(task.schema, input.rawArgs, validation);
  const args = 'value' in checked ? checked.value : await checked.pending;
  let event: RunEvent | undefined;
  if (input.middleware.length > 0) {
    event = { taskId: record.id, task: task.name, attempt: record.attempt, args, logger: input.logger };
    for (const m of input.middleware) await m.beforeRun?.(event);
  }
  return { result: await task.handler(args, ctx), event };
}

/** Call a hook of every middleware; log (never throw) what a hook throws. */
export async function callHooks(
  middleware: readonly Middleware[],
  logger: Logger,
  call: (m: Middleware) => void | Promise<void> | undefined,
): Promise<void> {
  if (middleware.length === 0) return;
  for (const m of middleware) {
    try {
      await call(m);
    } catch (error) {
      logger.warn('middleware hook threw; ignored', { middleware: m.name ?? '(anonymous)', error });
    }
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
