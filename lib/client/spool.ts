/**
 * `createSpool`: an app's tasks bound to a backend. Producers enqueue through it; workers run it.
 *
 * @module
 */

import type { Schedule } from '../schedule/define.js';
import type { AnyTask } from '../task/define.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../worker/runtime.js';
import { createWorker, type Worker, type WorkerOptions } from '../worker/worker.js';
import { createProducer, type Producer } from './producer.js';

/** Options of {@link createSpool}: the app's backend, tasks, schedules, middleware, logger and clock. */
export type SpoolOptions = RuntimeOptions;

/**
 * An app: enqueue runs, follow them, and run workers. A process that only enqueues can use
 * `createProducer` and task contracts instead, and bundle neither the handlers nor the worker.
 */
export interface Spool extends Producer {
  /** Registered tasks by name. */
  readonly tasks: ReadonlyMap<string, AnyTask>;
  /** Schedules declared in code, by name. */
  readonly schedules: ReadonlyMap<string, Schedule>;
  /**
   * What runs this app's tasks (backend, tasks, middleware, logger, clock): what
   * `createSqsHandler` and `createWorker` are built from.
   */
  readonly runtime: Runtime;
  /**
   * A worker for this app (not started). Unlike `createWorker`, it stops gracefully on SIGINT and
   * SIGTERM unless `signals: false` (see {@link WorkerOptions.signals}), and handles errors that
   * escape handlers unless `crashes: false` (see {@link WorkerOptions.crashes}).
   */
  worker(options?: WorkerOptions): Worker;
}

/**
 * Create an app.
 *
 * @example
 * ```ts
 * const spool = createSpool({ backend: openEmbeddedBackend(), tasks: [chargeOrder] });
 * const handle = await spool.enqueue(chargeOrder, { orderId: 'o-1', amountCents: 1200 });
 * console.log(await handle.result({ timeoutMs: 10_000 }));
 * ```
 */
export function createSpool(options: SpoolOptions): Spool {
  const runtime = createRuntime(options);
  const producer = createProducer({
    backend: runtime.backend,
    tasks: [...runtime.tasks.values()],
    middleware: runtime.middleware,
    logger: runtime.logger,
    now: runtime.now,
    ...(options.maxArgumentBytes === undefined ? {} : { maxArgumentBytes: options.maxArgumentBytes }),
  });
  return {
    ...producer,
    tasks: runtime.tasks,
    schedules: runtime.schedules,
    runtime,
    worker: (workerOptions) =>
      createWorker(runtime, {
        ...workerOptions,
        signals: workerOptions?.signals ?? true,
        crashes: workerOptions?.crashes ?? true,
      }),
  };
}
