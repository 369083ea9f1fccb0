/**
 * The runtime context: what the worker, the Lambda handler and the processor need to run tasks,
 * and nothing else. `createSpool` builds one (`spool.runtime`); the producer API never exposes it.
 *
 * @module
 */

import type { Backend } from '../backend/backend.js';
import { createLogger, type Logger } from '../log/logger.js';
import { indexSchedules, type Schedule } from '../schedule/define.js';
import type { AnyTask } from '../task/define.js';
import { ConfigurationError } from '../task/errors.js';
import type { Middleware } from '../task/middleware.js';

/** What runs tasks: the backend, the registered tasks and schedules, middleware, logger and clock. */
export interface Runtime {
  /** Where runs are queued and recorded. */
  readonly backend: Backend;
  /** The tasks this app runs, by name (each has a handler). */
  readonly tasks: ReadonlyMap<string, AnyTask>;
  /** Schedules declared in code, by name. */
  readonly schedules: ReadonlyMap<string, Schedule>;
  /** Hooks around each attempt, in registration order. */
  readonly middleware: readonly Middleware[];
  readonly logger: Logger;
  /** The clock, epoch ms. */
  readonly now: () => number;
}

/** Options of {@link createRuntime} (and of `createSpool`). */
export interface RuntimeOptions {
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
  /** Hooks around enqueue and around each attempt. @default [] */
  readonly middleware?: readonly Middleware[];
  /** @default a JSON-lines logger on stderr at SPOOL_LOG_LEVEL (else info) */
  readonly logger?: Logger;
  /** The clock, epoch ms (tests drive it). @default Date.now */
  readonly now?: () => number;
  /**
   * Largest task arguments this app enqueues, in bytes of their JSON text: the producer's option
   * (`ProducerOptions.maxArgumentBytes`); workers do not use it.
   * @default DEFAULT_MAX_ARGUMENT_BYTES (32 MiB)
   */
  readonly maxArgumentBytes?: number;
}

/**
 * Build a runtime. Refuses two different tasks (or schedules) of one name, and task contracts
 * without a handler, with a `ConfigurationError` that says how to fix it.
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  return {
    backend: options.backend,
    tasks: indexTasks(options.tasks),
    schedules: indexSchedules(options.schedules ?? []),
    middleware: options.middleware ?? [],
    logger: options.logger ?? createLogger(),
    now: options.now ?? Date.now,
  };
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
