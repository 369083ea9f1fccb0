/**
 * The long-running worker: receive, process with concurrency N, acknowledge in batches, shut
 * down gracefully. Runs on any backend. Its parts:
 *
 * - **slots** (`./slots.ts`): how many messages it holds at once;
 * - **polling** (`./poller.ts`): receives into free slots;
 * - **group running** (`./groups.ts`, shared with the Lambda handler): each group in order;
 * - **acknowledgement** (`./deleter.ts`): deletes in batches;
 * - **lease keeping** (`./lease-keeper.ts`): a thread that renews the leases of running attempts,
 *   so that a handler blocking the event loop does not let them lapse; the **loop monitor**
 *   (`./loop-monitor.ts`) warns when the event loop was blocked;
 * - **the handler pool** (`./pool.ts`, option `pool`): handlers in worker threads or child
 *   processes, off the main thread;
 * - **shutdown** ({@link Worker.stop}): stop receiving and let the receive in flight return (what it
 *   brings goes back unstarted), let attempts finish within the grace period, then interrupt and
 *   release what still runs.
 *
 * @module
 */

import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { ReceivedMessage } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import {
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  MAX_CONCURRENCY,
  MAX_VISIBILITY_SECONDS,
  MAX_WAIT_SECONDS,
} from '../protocol/limits.js';
import { type ScheduleRunner, startScheduleRunner } from '../schedule/runner.js';
import { ConfigurationError } from '../task/errors.js';
import { failAttemptsInFlight } from './attempt.js';
import { handleCrashes } from './crash.js';
import { BatchDeleter, DEFAULT_ACK_LINGER_MS, mayLinger } from './deleter.js';
import { type GroupHooks, GroupRunner, groupInOrder } from './groups.js';
import { LeaseKeeper } from './lease-keeper.js';
import { LoopMonitor } from './loop-monitor.js';
import { Poller } from './poller.js';
import { checkPoolOptions, HandlerPool, type WorkerPoolOptions } from './pool.js';
import type { Runtime } from './runtime.js';
import { drainOnSignals } from './signals.js';
import { sleep } from './sleep.js';
import { Slots } from './slots.js';

export type { WorkerPoolOptions } from './pool.js';

/** Options of a worker. */
export interface WorkerOptions {
  /**
   * Attempts run at once.
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Visibility timeout requested on receive, seconds. Heartbeats extend it while a run goes on,
   * and correctness never depends on it (the store's lease does). It does decide how soon a
   * crashed worker's messages come back: a run is taken over after the longer of this and its
   * task's `leaseSeconds`, so keep the two close.
   * @default 30
   */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Long-poll wait per receive, seconds (0–20). On SQS it also bounds how long `stop()` waits for the
   * receive in flight (see {@link Worker.stop}): lower it for quicker stops of idle workers, at the
   * price of more receive requests.
   * @default 20
   */
  readonly waitTimeSeconds?: number;
  /**
   * On `stop()`, how long in-flight attempts may take to finish before they are interrupted and
   * released for another worker, ms.
   * @default 30000
   */
  readonly shutdownGraceMs?: number;
  /**
   * Identifies this worker in leases and logs.
   * @default `${hostname}:${pid}`
   */
  readonly workerId?: string;
  /**
   * Where this worker logs (for example a pretty logger in `spool dev`).
   * @default the app's logger
   */
  readonly logger?: Logger;
  /**
   * Fire the app's schedules and delayed runs from this worker, on backends where spool does the
   * firing (the embedded runtime; on AWS, EventBridge Scheduler fires). Any number of workers
   * may do it at once: each fire runs once. At start the worker deploys the app's schedules
   * (creates or updates them, keeping a paused one paused; `spool schedules sync` also deletes).
   * @default true
   */
  readonly runSchedules?: boolean;
  /**
   * Keep a lease keeper thread standing by (`./lease-keeper.ts`): attempts heartbeat on the main
   * thread, and when a handler blocks the event loop (a CPU-bound loop), the keeper renews the
   * leases of this worker from its thread, so they do not lapse and another worker run the same
   * runs at once. It needs a backend that can be opened again in a thread (`backend.portable`: a
   * file-backed embedded backend, or an AWS backend with its own clients) and the default clock;
   * else, or with `false`, a blocked event loop lets leases lapse (the worker says why at start).
   * While the main thread is blocked, the keeper renews a lease only until its attempt's hard
   * timeout (15 minutes for a task with none).
   * @default true
   */
  readonly leaseKeeper?: boolean;
  /**
   * Where handlers run. `'inline'`: on the worker's main thread. `{ kind: 'threads' }` or
   * `{ kind: 'processes' }`: in a pool of worker threads or child processes (`child_process.fork`,
   * for native or CPU-heavy code), each importing `app` — the module whose default export (or
   * named export `spool`, or `exportName`) is the app, or a function returning it — and running
   * one attempt at a time. Arguments and results cross by structured clone; `ctx.progress`,
   * `ctx.logger` and `ctx.signal` are proxied. An attempt's hard timeout (or its lost lease, or
   * the end of the shutdown grace) terminates its member, which is the only way to stop a
   * synchronous loop, and a fresh one replaces it. See {@link WorkerPoolOptions}.
   * @default 'inline'
   */
  readonly pool?: 'inline' | WorkerPoolOptions;
  /**
   * Stop gracefully on SIGINT or SIGTERM (on Windows, SIGINT and SIGBREAK), then let the signal end
   * the process as it would have (`./signals.ts`). `spool.worker()` turns it on; the CLI has its
   * own handling.
   * @default false here; true from `spool.worker()`
   */
  readonly signals?: boolean;
  /**
   * Handle errors that escape handlers (`./crash.ts`): install `uncaughtException` and
   * `unhandledRejection` listeners while the worker runs. An error the handler's code started (a
   * throw in a timer or callback, a promise left rejected) fails that attempt with an
   * `UnhandledError`, retried per the retry policy, and the worker goes on; one after its attempt
   * ended is logged with the task id. An error from code outside any attempt, when nothing else in
   * the process listens for it, stops the worker: it fails its attempts in flight with a
   * `WorkerCrashed` error (counted against `maxAttempts`, so a message that keeps crashing workers
   * ends dead with that reason), flushes acknowledgements and exits the process with code 1, within
   * 5 s. With listeners of your own, spool only logs such an error and leaves it to them.
   *
   * A hard crash (SIGKILL, `taskkill /F` on Windows, out of memory, a native abort) runs no listener:
   * the run's lease expires and another worker takes it over, counting the lost attempt. The
   * listeners are the process's: in an app that embeds a worker (not the CLI) they also see errors
   * of the app's other code, which count as not attributed. Windows behaves the same.
   *
   * Cost: each attempt runs in an `AsyncLocalStorage` context. On Node 24 that is about 0.3 µs of
   * CPU per task; on Node 20, where `AsyncLocalStorage` runs on promise hooks that every promise of
   * the process then pays, about 4 µs (some 10% of an embedded no-op task). `crashes: false` saves it.
   * @default true from `spool.worker()` and the CLI, false from `createWorker` and `spool-tasks/testing`
   */
  readonly crashes?: boolean;
}

/** Defaults of {@link WorkerOptions}, in one place. */
export const WORKER_DEFAULTS = {
  concurrency: 10,
  visibilityTimeoutSeconds: DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  waitTimeSeconds: MAX_WAIT_SECONDS,
  shutdownGraceMs: 30_000,
} as const;

/** A worker. `start()` begins polling; `stop()` drains and resolves when nothing is in flight. */
export interface Worker {
  readonly id: string;
  /** Start receiving. Resolves once polling has begun. */
  start(): Promise<void>;
  /**
   * Stop: no more receives; in-flight attempts get `shutdownGraceMs` to finish, then are
   * interrupted and released (visible again at once) so nothing is lost. The receive in flight is
   * let return rather than abandoned (on SQS a long poll cannot be ended early, and an abandoned
   * one would hide what it takes for the visibility timeout), and what it brings is handed back at
   * once. So `stop()` takes the longer of the grace period (when attempts run that long) and what
   * is left of that receive's wait (`waitTimeSeconds` at most; at once on the embedded backend),
   * plus the time interrupted attempts take to settle and the last deletes: with the defaults, at
   * most about 30 s, and an idle worker on SQS at most 20 s.
   */
  stop(): Promise<void>;
  /** Resolves when the worker has stopped. */
  readonly stopped: Promise<void>;
  /** Attempts and messages in flight now. */
  readonly inFlight: number;
  /** Messages processed since start, by outcome note. */
  readonly counts: ReadonlyMap<string, number>;
}

/** Create a worker for an app's runtime (`spool.runtime`). Prefer `spool.worker(options)`. */
export function createWorker(runtime: Runtime, options: WorkerOptions = {}): Worker {
  return new SpoolWorker(runtime, resolveOptions(options));
}

/** {@link WorkerOptions} with defaults applied and checked. */
interface ResolvedOptions {
  readonly concurrency: number;
  readonly visibilityTimeoutSeconds: number;
  readonly waitTimeSeconds: number;
  readonly shutdownGraceMs: number;
  readonly workerId: string;
  readonly logger: Logger | undefined;
  readonly runSchedules: boolean;
  readonly leaseKeeper: boolean;
  readonly pool: WorkerPoolOptions | undefined;
  readonly signals: boolean;
  readonly crashes: boolean;
}

function resolveOptions(options: WorkerOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    concurrency: options.concurrency ?? WORKER_DEFAULTS.concurrency,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? WORKER_DEFAULTS.visibilityTimeoutSeconds,
    waitTimeSeconds: options.waitTimeSeconds ?? WORKER_DEFAULTS.waitTimeSeconds,
    shutdownGraceMs: options.shutdownGraceMs ?? WORKER_DEFAULTS.shutdownGraceMs,
    workerId: options.workerId ?? `${hostname()}:${process.pid}`,
    logger: options.logger,
    runSchedules: options.runSchedules ?? true,
    leaseKeeper: options.leaseKeeper ?? true,
    pool: options.pool === undefined || options.pool === 'inline' ? undefined : options.pool,
    signals: options.signals ?? false,
    crashes: options.crashes ?? false,
  };
  const { concurrency, visibilityTimeoutSeconds: visibility, waitTimeSeconds, shutdownGraceMs: graceMs } = resolved;
  check(
    Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= MAX_CONCURRENCY,
    'concurrency',
    concurrency,
    `an integer from 1 to ${MAX_CONCURRENCY}`,
  );
  check(
    Number.isInteger(visibility) && visibility >= 1 && visibility <= MAX_VISIBILITY_SECONDS,
    'visibilityTimeoutSeconds',
    visibility,
    `an integer from 1 to ${MAX_VISIBILITY_SECONDS}`,
  );
  check(
    Number.isInteger(waitTimeSeconds) && waitTimeSeconds >= 0 && waitTimeSeconds <= MAX_WAIT_SECONDS,
    'waitTimeSeconds',
    waitTimeSeconds,
    `an integer from 0 to ${MAX_WAIT_SECONDS}`,
  );
  check(Number.isFinite(graceMs) && graceMs >= 0, 'shutdownGraceMs', graceMs, 'a number of ms ≥ 0');
  if (resolved.pool !== undefined) checkPoolOptions(resolved.pool, concurrency);
  return resolved;
}

/** The worker: its parts (see the module's header) and their lifecycle. */
class SpoolWorker implements Worker {
  readonly id: string;
  readonly counts = new Map<string, number>();
  readonly stopped: Promise<void>;
  readonly #runtime: Runtime;
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #slots: Slots;
  readonly #deleter: BatchDeleter;
  readonly #groups: GroupRunner;
  /** Aborts when the worker stops receiving. */
  readonly #receiving = new AbortController();
  /** Aborts the attempts still in flight when the grace period is over. */
  readonly #interrupt = new AbortController();
  /** How many message groups are being run. */
  #groupsRunning = 0;
  /** Called when the last group running ends (set by {@link #drained}). */
  #onIdle: (() => void) | undefined;
  /** The group runner's hooks, the same for every group (no closures per group). */
  readonly #hooks: GroupHooks = {
    // Stopping: what has not started goes back at once, for another worker.
    stopping: () => this.#receiving.signal.aborted,
    settled: (count) => this.#slots.settle(count),
  };
  readonly #groupDone = (): void => {
    this.#groupsRunning -= 1;
    if (this.#groupsRunning > 0) return;
    const idle = this.#onIdle;
    this.#onIdle = undefined;
    idle?.();
  };
  #resolveStopped: () => void = () => {};
  #started = false;
  #polling: Promise<void> = Promise.resolve();
  #schedules: ScheduleRunner | undefined;
  readonly #monitor: LoopMonitor;
  readonly #keeper: LeaseKeeper;
  /** Takes this worker off the stop signals' list (while `signals` is on and it runs). */
  #offSignals: (() => void) | undefined;
  /** Why leases are renewed on the main thread, when they are. */
  readonly #keeperOff: string | undefined;
  readonly #pool: HandlerPool | undefined;

  constructor(runtime: Runtime, options: ResolvedOptions) {
    this.#runtime = runtime;
    this.#options = options;
    this.id = options.workerId;
    this.#logger = (options.logger ?? runtime.logger).child({ worker: options.workerId });
    this.#slots = new Slots(options.concurrency);
    // A delete lingers at most a quarter of the receive's visibility timeout: longer, and an
    // acknowledged message could come back before its delete, be received again (its receipt
    // changes, so the late delete misses) and loop.
    this.#deleter = new BatchDeleter(
      runtime.backend.transport.tasks,
      this.#logger,
      options.concurrency,
      Math.min(DEFAULT_ACK_LINGER_MS, (options.visibilityTimeoutSeconds * 1000) / 4),
    );
    // Every attempt in flight listens on this signal.
    setMaxListeners(options.concurrency + 10, this.#interrupt.signal);
    this.#keeperOff = keeperOffReason(runtime, options);
    this.#monitor = new LoopMonitor({
      logger: this.#logger,
      running: () => this.#keeper.running(),
      offThread: () => this.#keeper.offThread,
    });
    this.#keeper = new LeaseKeeper({
      backend: this.#keeperOff === undefined ? runtime.backend.portable : undefined,
      logger: this.#logger,
      liveness: this.#monitor.liveness,
      capacity: options.concurrency,
      onEnded: (attempt) => this.#monitor.noteEnded(attempt),
    });
    this.#pool =
      options.pool === undefined
        ? undefined
        : new HandlerPool({ ...options.pool, size: options.pool.size ?? options.concurrency, logger: this.#logger });
    this.#groups = new GroupRunner({
      runtime: this.#pool === undefined ? runtime : this.#pool.wrap(runtime),
      keeper: this.#keeper,
      workerId: options.workerId,
      logger: this.#logger,
      interrupt: this.#interrupt.signal,
      acknowledge: (message) => void this.#deleter.delete(message.receiptHandle, mayLinger(message)), // batched; stop() flushes
      onDisposition: (disposition) => this.counts.set(disposition.note, (this.counts.get(disposition.note) ?? 0) + 1),
    });
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
  }

  get inFlight(): number {
    return this.#slots.active;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#startSchedules();
    this.#monitor.start();
    if (this.#keeperOff !== undefined) {
      this.#logger.info(`leases are renewed on the main thread: ${this.#keeperOff}`);
    } else {
      // Not awaited: attempts are kept from now on, and the thread renews them once it is up.
      void this.#keeper.start().then((up) => {
        if (!up) this.#logger.info('leases are renewed on the main thread: the lease keeper did not start (see above)');
      });
    }
    if (this.#options.signals) this.#offSignals = drainOnSignals(this, this.#logger);
    if (this.#options.crashes) {
      const offCrashes = handleCrashes({
        logger: this.#logger,
        release: (error) => {
          const stopping = this.stop(); // no more receives, from here on
          failAttemptsInFlight(this.#interrupt.signal, error);
          return stopping;
        },
      });
      void this.stopped.then(offCrashes);
    }
    await this.#pool?.start();
    this.#logger.info('worker started', {
      concurrency: this.#options.concurrency,
      leases: this.#keeperOff === undefined ? 'main thread, lease keeper standing by' : 'main thread',
      handlers: this.#options.pool?.kind ?? 'inline',
      tasks: [...this.#runtime.tasks.keys()],
      ...(this.#schedules === undefined ? {} : { schedules: [...this.#runtime.schedules.keys()] }),
    });
    const poller = new Poller({
      queue: this.#runtime.backend.transport.tasks,
      slots: this.#slots,
      visibilityTimeoutSeconds: this.#options.visibilityTimeoutSeconds,
      waitTimeSeconds: this.#options.waitTimeSeconds,
      logger: this.#logger,
      signal: this.#receiving.signal,
      dispatch: (messages) => this.#dispatch(messages),
    });
    this.#polling = poller.run().catch((error: unknown) => {
      // Never leave a worker that looks alive but receives nothing: drain and stop.
      this.#logger.error('worker loop crashed; stopping', { error });
      setImmediate(() => void this.stop());
    });
  }

  async stop(): Promise<void> {
    if (this.#receiving.signal.aborted) return this.stopped;
    this.#offSignals?.();
    this.#offSignals = undefined;
    const graceMs = this.#options.shutdownGraceMs;
    this.#logger.info('worker stopping: no more receives; waiting for in-flight attempts', {
      inFlight: this.#slots.active,
      graceMs,
    });
    // No receive starts from now on. The one in flight is not cut short: on SQS an aborted long poll
    // goes on at the server and takes what is released meanwhile, hidden with nobody to run it
    // (aws-sdk-js#2350). So it returns (the embedded queue's at once, SQS's when SQS answers, at most
    // waitTimeSeconds after it began) and what it brings is handed back unstarted; the grace period
    // runs meanwhile.
    this.#receiving.abort();
    this.#slots.wake();
    const grace = sleep(graceMs, undefined, { unref: true }).then(() => 'grace-over' as const);
    await this.#schedules?.stop();
    const idle = this.#polling.then(() => this.#drained()).then(() => 'drained' as const);
    if ((await Promise.race([grace, idle])) === 'grace-over') {
      // Interrupted attempts release their messages: only once no receive of this worker is open,
      // so that none of them is taken by it.
      await this.#polling;
      if (this.#slots.active > 0) {
        this.#logger.warn('grace period over; interrupting and releasing in-flight attempts', {
          inFlight: this.#slots.active,
        });
        this.#interrupt.abort();
      }
      await idle;
    }
    await this.#deleter.flushNow();
    this.#monitor.stop();
    await Promise.all([this.#keeper.close(), this.#pool?.close()]);
    this.#logger.info('worker stopped', { processed: Object.fromEntries(this.counts) });
    this.#resolveStopped();
    return this.stopped;
  }

  /** Run the groups of a receive (its messages are already active in the slots). */
  #dispatch(messages: readonly ReceivedMessage[]): void {
    for (const group of groupInOrder(messages)) {
      this.#groupsRunning += 1;
      // runGroup never rejects. Deletes waiting for companions go when their batch fills or their linger ends.
      void this.#groups.runGroup(group, this.#hooks).then(this.#groupDone);
    }
  }

  /** Resolves once no message group is being run. */
  async #drained(): Promise<void> {
    while (this.#groupsRunning > 0) {
      await new Promise<void>((resolve) => {
        const before = this.#onIdle;
        this.#onIdle = () => {
          before?.();
          resolve();
        };
      });
    }
  }

  /** Deploy the app's schedules and fire them from this worker, where the backend fires in-process. */
  async #startSchedules(): Promise<void> {
    const scheduler = this.#runtime.backend.scheduler;
    if (!this.#options.runSchedules || scheduler?.firing !== 'in-process') return;
    for (const schedule of this.#runtime.schedules.values()) await scheduler.put(schedule.spec);
    this.#schedules = startScheduleRunner({
      scheduler,
      queue: this.#runtime.backend.transport.tasks,
      logger: this.#logger,
      now: this.#runtime.now,
    });
  }
}

/** Why this worker's leases cannot be renewed by the keeper's thread, or `undefined` when they can. */
function keeperOffReason(runtime: Runtime, options: ResolvedOptions): string | undefined {
  if (!options.leaseKeeper) return 'the worker option leaseKeeper is false';
  if (runtime.now !== Date.now) return 'the app has a custom clock (option now), which a thread cannot share';
  if (runtime.backend.portable === undefined) {
    return (
      'the backend cannot be opened in another thread (an in-memory embedded database, a custom clock, or AWS clients passed in); ' +
      'a handler that blocks the event loop longer than a lease lets the leases of this worker lapse'
    );
  }
  return undefined;
}

function check(ok: boolean, name: string, value: unknown, allowed: string): void {
  if (!ok) {
    throw new ConfigurationError(`Worker option ${name} is ${String(value)}; allowed: ${allowed}.`);
  }
}
