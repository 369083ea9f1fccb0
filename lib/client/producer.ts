/**
 * `createProducer`: enqueue runs and follow them, without running any. A web server or a
 * producer Lambda builds one over the backend and enqueues task contracts: it imports neither the
 * handlers nor the worker, so its bundle holds neither.
 *
 * @module
 */

import type { Backend } from '../backend/backend.js';
import { createLogger, type Logger } from '../log/logger.js';
import { DEFAULT_MAX_ARGUMENT_BYTES } from '../protocol/limits.js';
import { type AnyTaskContract, TASK_DEFAULTS } from '../task/contract.js';
import type { TaskArgs, TaskResult } from '../task/define.js';
import { ConfigurationError, EnqueueError, ValidationError } from '../task/errors.js';
import type { Middleware } from '../task/middleware.js';
import {
  acquireUniqueLock,
  type ClaimCheck,
  type EnqueueOptions,
  type PreparedRun,
  prepareRun,
  runEnqueueHooks,
  sendRuns,
} from './enqueue.js';
import { createHandle, type TaskHandle } from './handle.js';

/** The largest `maxArgumentBytes` allowed: SQLite's longest string (its default `SQLITE_MAX_LENGTH`), 10⁹ bytes. */
const MAX_ARGUMENT_BYTES_LIMIT = 1_000_000_000;

/** Options of {@link createProducer}. */
export interface ProducerOptions {
  /** Where runs are queued and recorded: `openAwsBackend()`, or the embedded backend. */
  readonly backend: Backend;
  /**
   * Contracts (or tasks) this producer knows by name: `producer.tasks`, and the retention a handle
   * made by `producer.handle(id, name)` uses when it cancels. Any contract can be enqueued, listed or not.
   * @default []
   */
  readonly tasks?: readonly AnyTaskContract[];
  /** Hooks around enqueue (`onEnqueue`; the run hooks are a worker's). @default [] */
  readonly middleware?: readonly Middleware[];
  /** @default a JSON-lines logger on stderr at SPOOL_LOG_LEVEL (else info) */
  readonly logger?: Logger;
  /** The clock, epoch ms (tests drive it). @default Date.now */
  readonly now?: () => number;
  /**
   * Largest task arguments, in bytes of their JSON text. Arguments whose message would be over
   * SQS's 1 MiB are written as a blob (the backend's blob store: the embedded file, or the S3
   * bucket) and the message carries its reference; larger ones than this are refused with an
   * `EnqueueError` (`PAYLOAD_TOO_LARGE`).
   * @default DEFAULT_MAX_ARGUMENT_BYTES (32 MiB)
   */
  readonly maxArgumentBytes?: number;
}

/** Enqueue runs and follow them. A {@link Spool} is a producer that also runs workers. */
export interface Producer {
  /** The backend runs are sent to (operators pass it to `listDeadLetters` and the like). */
  readonly backend: Backend;
  /** Known contracts by name (see {@link ProducerOptions.tasks}). */
  readonly tasks: ReadonlyMap<string, AnyTaskContract>;
  /**
   * Enqueue one run of a task or contract. Arguments are type-checked at compile time and
   * validated by the schema now (a `ValidationError` means nothing was sent). The handle's
   * `result()` resolves the JSON form of what the handler returns.
   */
  enqueue<T extends AnyTaskContract>(
    task: T,
    args: TaskArgs<T>,
    options?: EnqueueOptions,
  ): Promise<TaskHandle<TaskResult<T>>>;
  /**
   * Enqueue many runs of one task in one call (sent in batches of 10, in parallel). All
   * arguments are validated first: if any is invalid, nothing is sent.
   */
  enqueueMany<T extends AnyTaskContract>(
    task: T,
    argsList: readonly TaskArgs<T>[],
    options?: Omit<EnqueueOptions, 'idempotencyKey'>,
  ): Promise<TaskHandle<TaskResult<T>>[]>;
  /** A handle on an existing run by id (`task`: its task's name, when known). */
  handle<R = unknown>(id: string, task?: string): TaskHandle<R>;
  /** Close the backend. */
  close(): Promise<void>;
}

/**
 * Create a producer: enqueue and follow runs of task contracts, run none.
 *
 * @example
 * ```ts
 * import { openAwsBackend } from 'spool-tasks/aws';
 * import { createProducer } from 'spool-tasks';
 * import { chargeOrder } from './contracts.js'; // defineTaskContract(…): no handler code
 *
 * const producer = createProducer({ backend: openAwsBackend() });
 * const run = await producer.enqueue(chargeOrder, { orderId: 'o-1', amountCents: 1200 });
 * console.log(run.id, await run.status());
 * ```
 */
export function createProducer(options: ProducerOptions): Producer {
  const tasks = new Map<string, AnyTaskContract>();
  for (const task of options.tasks ?? []) tasks.set(task.name, task);
  const { backend } = options;
  const middleware = options.middleware ?? [];
  const logger = options.logger ?? createLogger();
  const now = options.now ?? Date.now;
  const max = options.maxArgumentBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > MAX_ARGUMENT_BYTES_LIMIT)) {
    throw new ConfigurationError(
      `createProducer: maxArgumentBytes is ${String(max)}; allowed: an integer from 1 to ${MAX_ARGUMENT_BYTES_LIMIT} ` +
        `(the longest value SQLite stores). Omit it for the default (${DEFAULT_MAX_ARGUMENT_BYTES}, 32 MiB).`,
    );
  }
  const claimCheck: ClaimCheck = {
    blobs: backend.store.blobs,
    queue: backend.transport.tasks.name,
    ...(options.maxArgumentBytes === undefined ? {} : { maxArgumentBytes: options.maxArgumentBytes }),
  };
  const retentionOf = (name: string | undefined) =>
    ((name === undefined ? undefined : tasks.get(name)?.resultTtlSeconds) ?? TASK_DEFAULTS.resultTtlSeconds) * 1000;
  const handleFor = <R>(id: string, task: string | undefined, existing: boolean, retentionMs = retentionOf(task)) =>
    createHandle<R>({
      store: backend.store,
      scheduler: backend.scheduler,
      now,
      id,
      ...(task === undefined ? {} : { task }),
      existing,
      retentionMs,
    });

  return {
    backend,
    tasks,
    async enqueue(task, args, enqueueOptions) {
      const retentionMs = task.resultTtlSeconds * 1000;
      const run = await prepareRun(task, args, enqueueOptions, now(), claimCheck);
      await runEnqueueHooks(middleware, task, run);
      if (run.uniqueKey !== undefined) {
        const holder = await acquireUniqueLock(backend.store, task, { ...run, uniqueKey: run.uniqueKey }, now());
        if (holder !== run.id) {
          logger.debug('unique run already queued or running', { task: task.name, taskId: holder });
          return handleFor(holder, task.name, true, retentionMs);
        }
      }
      await sendRuns(backend.transport.tasks, backend.store, [run], backend.scheduler);
      logger.debug('enqueued', { task: task.name, taskId: run.id });
      return handleFor(run.id, task.name, false, retentionMs);
    },
    async enqueueMany(task, argsList, enqueueOptions) {
      const retentionMs = task.resultTtlSeconds * 1000;
      const runs: PreparedRun[] = [];
      for (const [index, args] of argsList.entries()) {
        try {
          runs.push(await prepareRun(task, args, enqueueOptions, now(), claimCheck));
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
            handles.set(run.id, handleFor(holder, task.name, true, retentionMs));
            continue;
          }
        }
        toSend.push(run);
        handles.set(run.id, handleFor(run.id, task.name, false, retentionMs));
      }
      await sendRuns(backend.transport.tasks, backend.store, toSend, backend.scheduler);
      logger.debug('enqueued many', { task: task.name, count: toSend.length });
      return runs.map((run) => handles.get(run.id) ?? handleFor(run.id, task.name, false, retentionMs));
    },
    handle: (id, task) => handleFor(id, task, false),
    close: async () => {
      await backend.close();
    },
  };
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
      code: error.code,
      cause: error,
      ...(error.taskName === undefined ? {} : { taskName: error.taskName }),
    });
  }
  return error;
}
