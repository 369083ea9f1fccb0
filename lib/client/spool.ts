/**
 * `createSpool`: an app's tasks bound to a backend. Producers enqueue through it; workers run it.
 *
 * @module
 */

import type { Backend } from '../backend/backend.js';
import type { Logger } from '../log/logger.js';
import { indexSchedules, type Schedule } from '../schedule/define.js';
import type { AnyTask } from '../task/define.js';
import { ConfigurationError } from '../task/errors.js';
import { createWorker, type Worker, type WorkerOptions } from '../worker/worker.js';
import type { Middleware } from './middleware.js';
import { createProducer, type Producer } from './producer.js';

/** Options of {@link createSpool}. */
export interface SpoolOptions {
  /** Where runs are queued and recorded: `openEmbeddedBackend()` or the AWS backend. */
  readonly backend: Backend;
  /**
   * The tasks this app can run: tasks from `defineTask`, or contracts implemented with
   * `implementTask(contract, handler)` (a bare contract has no handler and is refused). Producers may
   * enqueue tasks not listed here; workers refuse them.
   */
  readonly tasks: readonly AnyTask[];
  /**
   * Recurring schedules declared in code. The embedded runtime's workers run them; on AWS,
   * EventBridge Scheduler does (deployed by the TaskQueue construct or `spool schedules sync`).
   * @default []
   */
  readonly schedules?: readonly Schedule[];
  /** @default [] */
  readonly middleware?: readonly Middleware[];
  /** @default a JSON-lines logger on stderr at SPOOL_LOG_LEVEL (else info) */
  readonly logger?: Logger;
  /** The clock, epoch ms (tests drive it). @default Date.now */
  readonly now?: () => number;
}

/**
 * An app: enqueue runs, follow them, and run workers. A process that only enqueues can use
 * `createProducer` and task contracts instead, and bundle neither the handlers nor the worker.
 */
export interface Spool extends Producer {
  /** Registered tasks by name. */
  readonly tasks: ReadonlyMap<string, AnyTask>;
  /** Schedules declared in code, by name. */
  readonly schedules: ReadonlyMap<string, Schedule>;
  /** A worker for this app (not started). */
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
  const tasks = indexTasks(options.tasks);
  const schedules = indexSchedules(options.schedules ?? []);
  const producer = createProducer({ ...options, tasks: [...tasks.values()] });
  const spool: Spool = {
    ...producer,
    tasks,
    schedules,
    worker: (workerOptions) => createWorker(spool, workerOptions),
  };
  return spool;
}

/** The tasks by name; refuses two tasks of one name, and contracts without a handler. */
function indexTasks(list: readonly AnyTask[]): Map<string, AnyTask> {
  const tasks = new Map<string, AnyTask>();
  for (const task of list) {
    if (typeof task?.handler !== 'function') {
      const name = typeof task?.name === 'string' ? `'${task.name}'` : JSON.stringify(task?.name ?? null);
      throw new ConfigurationError(
        `createSpool: task ${name} has no handler (a task contract, or not a task at all). ` +
          'Workers run tasks: register implementTask(contract, handler) or a defineTask(...) task. ' +
          'A process that only enqueues needs no tasks: use createProducer({ backend }).',
        ...(typeof task?.name === 'string' ? [{ taskName: task.name }] : []),
      );
    }
    const other = tasks.get(task.name);
    if (other !== undefined && other !== task) {
      throw new ConfigurationError(
        `createSpool: two different tasks are named '${task.name}'. Task names must be unique within an app; rename one.`,
        { taskName: task.name },
      );
    }
    tasks.set(task.name, task);
  }
  return tasks;
}
