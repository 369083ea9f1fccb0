/**
 * One attempt: run the handler under its lease (heartbeat), its timeouts and its middleware.
 *
 * The lease is renewed by a timer on this thread, every third of the lease; while this thread is
 * blocked, the worker's lease keeper (`./lease-keeper.ts`, a thread that a blocked main thread
 * cannot stall) renews it instead, when the runtime has one.
 *
 * @module
 */

import type { TaskRecord, TaskStore } from '../backend/store.js';
import { recordBytes, recordFits } from '../backend/store-rules.js';
import type { Logger } from '../log/logger.js';
import { MAX_PROGRESS_BYTES, MAX_RECORD_BYTES } from '../protocol/limits.js';
import type { AnyTask, TaskContext } from '../task/define.js';
import { HardTimeoutError, InvalidResultError, SpoolError, TimeoutError } from '../task/errors.js';
import type { Middleware, RunEvent } from '../task/middleware.js';
import { encodeProgress } from '../task/result.js';
import { validateArgsNow } from '../task/schema.js';
import { FAIL_ESCAPED, hasCrashed, runInAttemptScope, type ScopedAttempt, type UnhandledError } from './crash.js';
import { leaseLength, UNTIMED_KEEP_MS } from './lease.js';
import type { KeptHandle, LeaseKeeper } from './lease-keeper.js';

/** Why an attempt's signal was aborted by spool (the handler sees it as `signal.reason`). */
export class AttemptAbortedError extends SpoolError {
  /** The codes `instanceof AttemptAbortedError` accepts. */
  static override readonly codes = ['ATTEMPT_ABORTED'] as const;
  override name = 'AttemptAbortedError';
  declare readonly code: 'ATTEMPT_ABORTED';
  /** `cancelled` by `cancel()`, `lease-lost`, or `shutdown` of the worker. */
  readonly why: 'cancelled' | 'lease-lost' | 'shutdown';

  constructor(why: 'cancelled' | 'lease-lost' | 'shutdown', context: { taskId: string; taskName: string }) {
    super(
      why === 'cancelled'
        ? 'the run was cancelled'
        : why === 'lease-lost'
          ? 'the lease on the run was lost (another worker took it over)'
          : 'the worker is shutting down',
      { ...context, code: 'ATTEMPT_ABORTED' },
    );
    this.why = why;
  }
}

/**
 * How an attempt ended. `progress` is the JSON text of the last `ctx.progress()` value the attempt
 * accepted before it ended (absent when it accepted none): the finish writes it, so the record ends
 * with that value whichever progress write landed last, and its size is known before the write.
 */
export type AttemptOutcome = (
  | { readonly kind: 'succeeded'; readonly result: unknown; readonly durationMs: number }
  | {
      readonly kind: 'threw';
      readonly error: unknown;
      readonly durationMs: number;
      readonly aborted?: AttemptAbortedError;
    }
) & { readonly progress?: string };

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
  /** Renews the lease while this thread is blocked (the worker's lease keeper); absent: nothing does. */
  readonly keeper?: LeaseKeeper;
  /** The message's receipt handle: the keeper extends its visibility with each heartbeat. */
  readonly receiptHandle?: string;
}

/** Soft timeout this long before the runtime's deadline, so the handler can wind down, ms. */
const SOFT_BEFORE_DEADLINE_MS = 3000;

/** How the work of an attempt came out (or why it was abandoned). */
type Settlement = { readonly result: unknown; readonly event: RunEvent | undefined } | { readonly error: unknown };

/**
 * Run one attempt. Never rejects: errors come back as `threw`.
 *
 * The attempt settles once, on the first of: the work ends (validation, `beforeRun` hooks, the
 * handler), the hard timeout fires, or an interrupt (worker shutdown, lease lost) — the last two
 * abandon the handler, which may still be running. A cancel or the soft timeout only abort
 * `ctx.signal`.
 */
export function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  return Attempt.run(input);
}

/**
 * One attempt in progress, and the {@link TaskContext} its handler gets. Everything else is
 * private: the handler sees only the context's members. Written as a class, with timers that take
 * the attempt as an argument, so an attempt allocates a few objects and no closures (this is the
 * worker's hot path): one promise for its outcome, one heartbeat timer, and the handler's
 * `AbortController` only if it reads `ctx.signal`.
 */
class Attempt implements TaskContext, ScopedAttempt {
  readonly taskId: string;
  readonly taskName: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly logger: Logger;
  readonly #input: AttemptInput;
  readonly #settled: Promise<Settlement>;
  #resolve: (settlement: Settlement) => void = () => {};
  #done = false;
  #controller: AbortController | undefined;
  #abortReason: Error | undefined;
  #aborted: AttemptAbortedError | undefined;
  /** The JSON text of the last progress value accepted (it may not have been written yet). */
  #lastProgress: string | undefined;
  /** The heartbeat timer on this thread. */
  #heartbeat: NodeJS.Timeout | undefined;

  private constructor(input: AttemptInput) {
    this.taskId = input.record.id;
    this.taskName = input.task.name;
    this.attempt = input.record.attempt;
    this.maxAttempts = input.task.retry.maxAttempts;
    this.logger = input.logger;
    this.#input = input;
    this.#settled = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Aborted on a soft or hard timeout, a cancel, a lost lease or shutdown; made when first read. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /**
   * Record progress now (a heartbeat that also writes `value`). A getter, so that the function
   * works taken off the context (`async (args, { progress }) => …`); made only when read.
   */
  get progress(): (value: unknown) => Promise<void> {
    return (value) => this.#reportProgress(value);
  }

  /**
   * `ctx.progress(value)`: safe when not awaited. The promise returned gets a handler at once, so a
   * failure is never an unhandled rejection (which would end the process, and the run's message
   * would then crash the next worker too): it is logged (warn, with the task id) and the attempt
   * goes on. A caller that awaits it still sees the rejection. See {@link TaskContext.progress}.
   */
  #reportProgress(value: unknown): Promise<void> {
    const written = this.#writeProgress(value);
    written.catch((error: unknown) =>
      warnSafely(this.logger, 'progress not recorded; the attempt goes on', { error: describeFailure(error) }),
    );
    return written;
  }

  /** Check `value` (JSON, its size, the record's size), then write it with a heartbeat. */
  async #writeProgress(value: unknown): Promise<void> {
    if (this.#done) return; // the attempt has ended: its outcome carries the progress it accepted
    const { task, record } = this.#input;
    const context = { taskName: task.name, taskId: record.id };
    const json = encodeProgress(value, context);
    const bytes = utf8Bytes(json);
    if (bytes > MAX_PROGRESS_BYTES) {
      throw new InvalidResultError(
        `Task '${task.name}' passed ctx.progress() a value of ${bytes} bytes as JSON; progress is stored up to ${MAX_PROGRESS_BYTES} bytes (MAX_PROGRESS_BYTES). ` +
          'Report a summary (a count, a percentage, a stage), and store large data elsewhere (S3) and report its key. ' +
          'The progress was not recorded (InvalidResultError is not retriable: let it propagate and the run fails).',
        { ...context, path: '$' },
      );
    }
    const withProgress = { ...record, progress: json };
    if (!recordFits(withProgress, MAX_RECORD_BYTES)) {
      const recordSize = recordBytes(withProgress);
      throw new InvalidResultError(
        `Task '${task.name}' passed ctx.progress() a value of ${bytes} bytes as JSON, which would make the run's record ${recordSize} bytes; ` +
          `the store keeps records up to ${MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES, from DynamoDB's 400 KB item). ` +
          'Report a smaller value. The progress was not recorded.',
        { ...context, path: '$' },
      );
    }
    this.#lastProgress = json;
    await this.#beat(json);
  }

  static async run(input: AttemptInput): Promise<AttemptOutcome> {
    const attempt = new Attempt(input);
    const { task } = input;
    const started = Date.now();
    const stopWatch = Attempt.#watchStop(input.stop, attempt);
    const hardMs = task.timeout.hardMs;
    const kept = Attempt.#keep(attempt, started, hardMs);
    // The attempt heartbeats on this thread; the keeper renews only while this thread is blocked.
    attempt.#startHeartbeat();
    const softMs = minDefined(
      task.timeout.softMs,
      input.deadline === undefined ? undefined : input.deadline - input.now() - SOFT_BEFORE_DEADLINE_MS,
    );
    const softTimer =
      softMs === undefined ? undefined : setTimeout(Attempt.#onSoftTimeout, Math.max(0, softMs), attempt, softMs);
    const hardTimer = hardMs === undefined ? undefined : setTimeout(Attempt.#onHardTimeout, hardMs, attempt, hardMs);
    // After a crash no attempt starts: it is given back, as at a shutdown.
    if (hasCrashed()) attempt.#abortFor('shutdown');
    try {
      // Its work runs in the attempt's context: what escapes it (./crash.ts) fails this attempt.
      if (!attempt.#done) runInAttemptScope(attempt, Attempt.#startWork);
      const outcome = await attempt.#settled;
      const durationMs = Date.now() - started;
      const progress = attempt.#lastProgress === undefined ? {} : { progress: attempt.#lastProgress };
      if ('error' in outcome) {
        const aborted = attempt.#aborted;
        return {
          kind: 'threw',
          error: outcome.error,
          durationMs,
          ...(aborted === undefined ? {} : { aborted }),
          ...progress,
        };
      }
      const { result, event } = outcome;
      if (event !== undefined) {
        await callHooks(input.middleware, attempt.logger, (m) => m.afterRun?.({ ...event, result, durationMs }));
      }
      // A cancel that arrives after the work is done is too late: the success stands.
      return { kind: 'succeeded', result, durationMs, ...progress };
    } finally {
      if (attempt.#heartbeat !== undefined) clearInterval(attempt.#heartbeat);
      // With a message, the keeper renews the lease until the processor has written the finish
      // (the group runner releases it then); without one, it stops now (see lease-keeper.ts).
      if (kept !== undefined && input.receiptHandle === undefined) await input.keeper?.release(kept);
      if (softTimer !== undefined) clearTimeout(softTimer);
      if (hardTimer !== undefined) clearTimeout(hardTimer);
      stopWatch.delete(attempt);
    }
  }

  static #startWork(attempt: Attempt): void {
    void attempt.#work();
  }

  /**
   * An error escaped the handler (./crash.ts): fail the attempt with it, abandoning the handler as a
   * hard timeout does. `false` when the attempt had already ended (its outcome stands).
   */
  [FAIL_ESCAPED](error: UnhandledError): boolean {
    if (this.#done) return false;
    this.#abort(error);
    this.#settle({ error });
    return true;
  }

  /** Fail every attempt in flight under `stop` (a worker's) with `error`: the worker crashed. */
  static failInFlight(stop: AbortSignal, error: Error): void {
    for (const attempt of Attempt.#stopWatches.get(stop) ?? []) {
      attempt.#abort(error);
      attempt.#settle({ error });
    }
  }

  /** Settle the attempt, once; later calls (a handler ending after an interrupt) do nothing. */
  #settle(settlement: Settlement): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(settlement);
  }

  /**
   * Make sure the lease is live, validate the arguments (synchronously when the schema is), run
   * `beforeRun` hooks, then the handler.
   */
  async #work(): Promise<void> {
    try {
      const { task, record, middleware } = this.#input;
      // The lease keeper knows the attempt only from here on: if this thread was blocked between the
      // claim and now (another handler's loop), less than half the lease may be left, or none, and
      // another worker may have the run. Renew first; a lost lease settles the attempt unrun.
      if ((record.leaseExpiresAt ?? 0) - this.#input.now() < task.leaseSeconds * 500) {
        await this.#beat();
        if (this.#done) return;
      }
      const context = { taskName: task.name, taskId: record.id, when: 'run' } as const;
      const checked = validateArgsNow(task.schema, this.#input.rawArgs, context);
      const args = 'value' in checked ? checked.value : await checked.pending;
      let event: RunEvent | undefined;
      if (middleware.length > 0) {
        event = { taskId: record.id, task: task.name, attempt: record.attempt, args, logger: this.logger };
        for (const m of middleware) await m.beforeRun?.(event);
      }
      this.#settle({ result: await task.handler(args, this), event });
    } catch (error) {
      this.#settle({ error });
    }
  }

  #abort(reason: Error): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** Shutdown and a lost lease end the attempt at once, even if the handler ignores its signal; a cancel only aborts the signal. */
  #abortFor(why: AttemptAbortedError['why']): void {
    const error = new AttemptAbortedError(why, { taskId: this.taskId, taskName: this.taskName });
    if (this.#aborted === undefined || (why !== 'cancelled' && this.#aborted.why === 'cancelled')) {
      this.#aborted = error;
    }
    this.#abort(error);
    if (why !== 'cancelled') this.#settle({ error });
  }

  /** Renew the lease (writing `progress`, JSON text, when given) and the message's visibility. */
  async #beat(progress?: string): Promise<void> {
    const { task, record, store, now } = this.#input;
    const at = now();
    const result = await store.heartbeat({
      id: record.id,
      owner: record.leaseOwner ?? '',
      now: at,
      leaseMs: leaseLength(task, at, this.#input.deadline),
      ...(progress === undefined ? {} : { progress }),
      ...(record.singletonKey === undefined ? {} : { singletonKey: record.singletonKey }),
    });
    if (result.outcome === 'lost') this.#abortFor('lease-lost');
    else if (result.cancelRequested) this.#abortFor('cancelled');
    await this.#input.extendVisibility(task.leaseSeconds);
  }

  /** Renew the lease (and the message's visibility) from this thread, every third of the lease. */
  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#done) return;
    this.#heartbeat = setInterval(Attempt.#onHeartbeat, (this.#input.task.leaseSeconds * 1000) / 3, this);
  }

  /**
   * Register the attempt with the runtime's lease keeper, if any: while this thread is blocked, it
   * renews the lease from its thread, until the hard timeout (or the deadline;
   * {@link UNTIMED_KEEP_MS} for a task with neither).
   */
  static #keep(attempt: Attempt, started: number, hardMs: number | undefined): KeptHandle | undefined {
    const { keeper, task, record, deadline, receiptHandle } = attempt.#input;
    if (keeper === undefined) return undefined;
    const until = Math.min(started + (hardMs ?? UNTIMED_KEEP_MS), deadline ?? Number.POSITIVE_INFINITY);
    return keeper.keep(
      { taskName: task.name, taskId: record.id, attempt: record.attempt, leaseSeconds: task.leaseSeconds },
      {
        id: record.id,
        owner: record.leaseOwner ?? '',
        leaseSeconds: task.leaseSeconds,
        until,
        singletonKey: record.singletonKey,
        deadline,
        receiptHandle,
      },
    );
  }

  static #onHeartbeat(attempt: Attempt): void {
    attempt
      .#beat()
      .catch((error: unknown) => warnSafely(attempt.logger, 'heartbeat failed; will try again', { error }));
  }

  static #onSoftTimeout(attempt: Attempt, softMs: number): void {
    const context = { taskId: attempt.taskId, taskName: attempt.taskName };
    attempt.#abort(new TimeoutError(`soft timeout: the attempt ran ${Math.round(softMs)} ms`, context));
  }

  static #onHardTimeout(attempt: Attempt, hardMs: number): void {
    const error = new HardTimeoutError(
      `hard timeout: the attempt ran longer than ${hardMs} ms and was abandoned. Make the handler honour ctx.signal, or raise timeout.hardMs.`,
      { taskId: attempt.taskId, taskName: attempt.taskName },
    );
    attempt.#abort(error);
    attempt.#settle({ error });
  }

  /**
   * The attempts to interrupt when a stop signal aborts, by signal: one `abort` listener per
   * signal (a worker's), not one per attempt (adding and removing EventTarget listeners is slow).
   */
  static readonly #stopWatches = new WeakMap<AbortSignal, Set<Attempt>>();

  /** Interrupt `attempt` with `shutdown` when `stop` aborts (at once if it has); the caller removes it from the set returned. */
  static #watchStop(stop: AbortSignal, attempt: Attempt): Set<Attempt> {
    let watched = Attempt.#stopWatches.get(stop);
    if (watched === undefined) {
      const attempts = new Set<Attempt>();
      watched = attempts;
      Attempt.#stopWatches.set(stop, attempts);
      stop.addEventListener('abort', () => {
        for (const running of attempts) running.#abortFor('shutdown');
      });
    }
    watched.add(attempt);
    if (stop.aborted) attempt.#abortFor('shutdown');
    return watched;
  }
}

/**
 * Fail every attempt in flight that `stop` (a worker's interrupt signal) would interrupt, with
 * `error` (a crash of the worker, `./crash.ts`): each ends through the processor as a failed
 * attempt, counted against `maxAttempts`.
 */
export function failAttemptsInFlight(stop: AbortSignal, error: Error): void {
  Attempt.failInFlight(stop, error);
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

/** Log a warning from a rejection handler: a logger that throws must not make it an unhandled rejection. */
function warnSafely(logger: Logger, message: string, fields: Record<string, unknown>): void {
  try {
    logger.warn(message, fields);
  } catch {
    // The logger failed; nothing else can report it.
  }
}

/** What a log line says of a failed progress write: the error, and the path of a refused value. */
function describeFailure(error: unknown): unknown {
  return error instanceof InvalidResultError ? { name: error.name, message: error.message, path: error.path } : error;
}

/** Size of `text` in UTF-8, bytes. */
function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
