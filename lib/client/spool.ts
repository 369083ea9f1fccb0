/**
 * `createSpool`: an app's tasks bound to a backend. Producers enqueue through it; workers run it.
 *
 * @module
 */

import type { Backend } from '../backend/backend.js';
import { createLogger, type Logger } from '../log/logger.js';
import { indexSchedules, type Schedule } from '../schedule/define.js';
import { type AnyTask, TASK_DEFAULTS, type TaskArgs, type TaskResult } from '../task/define.js';
import { ConfigurationError, EnqueueError, ValidationError } from '../task/errors.js';
import { createWorker, type Worker, type WorkerOptions } from '../worker/worker.js';
import {
  acquireUniqueLock,
  type EnqueueOptions,
  type PreparedRun,
  prepareRun,
  runEnqueueHooks,
  sendRuns,
  timerName,
} from './enqueue.js';
import { createHandle, type TaskHandle } from './handle.js';
import type { Middleware } from './middleware.js';

/** Options of {@link createSpool}. */
export interface SpoolOptions {
  /** Where runs are queued and recorded: `openEmbeddedBackend()` or the AWS backend. */
  readonly backend: Backend;
  /** The tasks this app can run. Producers may enqueue tasks not listed here; workers refuse them. */
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

/** An app: enqueue runs, follow them, and run workers. */
export interface Spool {
  readonly backend: Backend;
  /** Registered tasks by name. */
  readonly tasks: ReadonlyMap<string, AnyTask>;
  /** Schedules declared in code, by name. */
  readonly schedules: ReadonlyMap<string, Schedule>;
  readonly middleware: readonly Middleware[];
  readonly logger: Logger;
  readonly now: () => number;
  /**
   * Enqueue one run. Arguments are type-checked at compile time and validated by the task's
   * schema now (a `ValidationError` means nothing was sent).
   */
  enqueue<T extends AnyTask>(task: T, args: TaskArgs<T>, options?: EnqueueOptions): Promise<TaskHandle<TaskResult<T>>>;
  /**
   * Enqueue many runs of one task in one call (sent in batches of 10, in parallel). All
   * arguments are validated first: if any is invalid, nothing is sent.
   */
  enqueueMany<T extends AnyTask>(
    task: T,
    argsList: readonly TaskArgs<T>[],
    options?: Omit<EnqueueOptions, 'idempotencyKey'>,
  ): Promise<TaskHandle<TaskResult<T>>[]>;
  /** A handle on an existing run by id. */
  handle<R = unknown>(id: string, task?: string): TaskHandle<R>;
  /** A worker for this app (not started). */
  worker(options?: WorkerOptions): Worker;
  /** Close the backend. */
  close(): Promise<void>;
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
  const tasks = new Map<string, AnyTask>();
  for (const task of options.tasks) {
    const other = tasks.get(task.name);
    if (other !== undefined && other !== task) {
      throw new ConfigurationError(
        `createSpool: two different tasks are named '${task.name}'. Task names must be unique within an app; rename one.`,
        { taskName: task.name },
      );
    }
    tasks.set(task.name, task);
  }
  const schedules = indexSchedules(options.schedules ?? []);
  const { backend } = options;
  const middleware = options.middleware ?? [];
  const logger = options.logger ?? createLogger();
  const now = options.now ?? Date.now;
  const retentionOf = (name: string) => (tasks.get(name)?.resultTtlSeconds ?? TASK_DEFAULTS.resultTtlSeconds) * 1000;
  const handleFor = <R>(id: string, task: string, existing: boolean) =>
    createHandle<R>(backend.store, backend.scheduler, timerName(id), now, id, task, existing, retentionOf(task));

  const spool: Spool = {
    backend,
    tasks,
    schedules,
    middleware,
    logger,
    now,
    async enqueue(task, args, enqueueOptions) {
      const run = await prepareRun(task, args, enqueueOptions, now());
      await runEnqueueHooks(middleware, task, run);
      if (run.uniqueKey !== undefined) {
        const holder = await acquireUniqueLock(backend.store, task, { ...run, uniqueKey: run.uniqueKey }, now());
        if (holder !== run.id) {
          logger.debug('unique run already queued or running', { task: task.name, taskId: holder });
          return handleFor(holder, task.name, true);
        }
      }
      await sendRuns(backend.transport.tasks, backend.store, [run], backend.scheduler);
      logger.debug('enqueued', { task: task.name, taskId: run.id });
      return handleFor(run.id, task.name, false);
    },
    async enqueueMany(task, argsList, enqueueOptions) {
      const runs: PreparedRun[] = [];
      for (const [index, args] of argsList.entries()) {
        try {
          runs.push(await prepareRun(task, args, enqueueOptions, now()));
        } catch (error) {
          throw rewordBulkError(error, index, argsList.length);
        }
      }
      for (const run of runs) await runEnqueueHooks(middleware, task, run);
      const handles = new Map<string, TaskHandle<TaskResult<typeof task>>>();
      const toSend: PreparedRun[] = [];
      for (const run of runs) {
        if (handles.has(run.id)) continue; // the same run twice in one call
        if (run.uniqueKey !== undefined) {
          const holder = await acquireUniqueLock(backend.store, task, { ...run, uniqueKey: run.uniqueKey }, now());
          if (holder !== run.id) {
            handles.set(run.id, handleFor(holder, task.name, true));
            continue;
          }
        }
        toSend.push(run);
        handles.set(run.id, handleFor(run.id, task.name, false));
      }
      await sendRuns(backend.transport.tasks, backend.store, toSend, backend.scheduler);
      logger.debug('enqueued many', { task: task.name, count: toSend.length });
      return runs.map((run) => handles.get(run.id) ?? handleFor(run.id, task.name, false));
    },
    handle: (id, task = '?') => handleFor(id, task, false),
    worker: (workerOptions) => createWorker(spool, workerOptions),
    close: async () => {
      await backend.close();
    },
  };
  return spool;
}

function rewordBulkError(error: unknown, index: number, total: number): unknown {
  const where = `enqueueMany: item ${index} of ${total}: `;
  const tail = ' Nothing was enqueued.';
  if (error instanceof ValidationError) {
    return new ValidationError(where + error.message + tail, {
      issues: error.issues,
      ...(error.taskName === undefined ? {} : { taskName: error.taskName }),
    });
  }
  if (error instanceof EnqueueError) {
    return new EnqueueError(where + error.message + tail, {
      cause: error,
      ...(error.taskName === undefined ? {} : { taskName: error.taskName }),
    });
  }
  return error;
}
