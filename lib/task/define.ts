/**
 * `defineTask`: a named, typed function with its schema and run options; `implementTask`: a task from
 * a {@link TaskContract} and a handler.
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Logger } from '../log/logger.js';
import {
  type AnyTaskContract,
  resolveContract,
  TASK_DEFAULTS,
  type TaskContract,
  type TaskContractDefinition,
  type TimeoutOptions,
} from './contract.js';
import { ConfigurationError } from './errors.js';
import type { Jsonify } from './result.js';
import type { AnySchema } from './schema.js';

export { TASK_DEFAULTS, type TimeoutOptions };

/** What a handler gets beside its arguments. */
export interface TaskContext {
  /** The run's task id. Pass it as the idempotency key to payment or e-mail APIs. */
  readonly taskId: string;
  /** The task's name. */
  readonly taskName: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /** Attempts allowed in all. */
  readonly maxAttempts: number;
  /**
   * Aborted when the soft timeout passes, the run is cancelled, the hard timeout passes, the
   * lease is lost (another worker took the run over), or the worker shuts down (or its Lambda's
   * deadline nears). `signal.reason` says which. Pass it to `fetch` and friends.
   */
  readonly signal: AbortSignal;
  /** A logger whose lines carry taskId, task and attempt. */
  readonly logger: Logger;
  /**
   * Record progress (any JSON value); readable through `handle.info()` and `spool inspect`. The
   * record keeps the last value accepted, also once the run has ended.
   *
   * The value is checked before anything is written, the same way on every backend: it must be
   * JSON (as a result: no bigint, non-finite number, cycle, throwing `toJSON()`, or nesting deeper
   * than `MAX_JSON_DEPTH`, 256), at most `MAX_PROGRESS_BYTES` (64 KiB) as JSON, and leave the run's
   * record within `MAX_RECORD_BYTES` (from DynamoDB's 400 KB item). A refused value is not
   * recorded. Calls made after the attempt ended (the handler returned, or was abandoned) are ignored.
   *
   * **Awaiting is optional, and the attempt goes on either way.** Not awaited, a failure (a refused
   * value, or a store that failed to write) is logged as a warning with the task id, and never
   * becomes an unhandled rejection: it cannot take the worker down. Awaited, the promise also
   * rejects: with an `InvalidResultError` (code `INVALID_RESULT`, not retriable; `path` and the
   * message say what, where, the limit and the fix) for a refused value, or with the store's error
   * for a failed write (retriable). Let it propagate and the attempt ends with it, as with any
   * error: a refused value fails the run without retrying. spool does not fail the attempt
   * itself, because progress is a report for people, not the work: a run whose work succeeded
   * (a card charged, a file written) should not be failed, or run again, over a status line. The
   * lease is renewed by the heartbeat whatever becomes of a progress write.
   *
   * @example
   * ```ts
   * for (const [i, row] of rows.entries()) {
   *   await importRow(row);
   *   void ctx.progress({ done: i + 1, of: rows.length }); // no need to wait for the write
   * }
   * ```
   */
  progress(value: unknown): Promise<void>;
}

/** Options of {@link defineTask}: a {@link TaskContractDefinition} and the handler. `R` is the result. */
export interface TaskDefinition<S extends AnySchema, R> extends TaskContractDefinition<S> {
  /**
   * The work. Its return value is stored as the run's result in its JSON form (a `Date` becomes
   * its ISO string); a value JSON cannot carry (a bigint, a non-finite number, a cycle, a
   * throwing `toJSON()`, nesting deeper than `MAX_JSON_DEPTH`) fails the run at once, without
   * retrying, with an `InvalidResultError` naming the path. A result that would make its record
   * larger than `MAX_RECORD_BYTES` is kept as a blob (the claim-check: the record carries its
   * reference, and handles read it back); one over `MAX_RESULT_BYTES` (32 MiB as JSON), or any that
   * does not fit the record on a backend without a blob store, fails the run with `ResultTooLarge`,
   * naming the sizes and the limit. An error message is stored in the record up to
   * `MAX_ERROR_MESSAGE_BYTES` (8 KiB), cut with a note of its size, and whole as a blob.
   */
  readonly handler: (args: StandardSchemaV1.InferOutput<S>, ctx: TaskContext) => R | Promise<R>;
}

/**
 * A task: a {@link TaskContract} with its handler. Pass it to `enqueue`; register it with
 * `createSpool({ tasks })`.
 */
export interface Task<I = unknown, O = unknown, R = unknown> extends TaskContract<I, O, R> {
  readonly handler: (args: O, ctx: TaskContext) => R | Promise<R>;
}

/** Any task, whatever its types. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds tasks of every argument and result type.
export type AnyTask = Task<any, any, any>;

/** The argument type a task or contract accepts at enqueue. */
export type TaskArgs<T> = T extends TaskContract<infer I, infer _O, infer _R> ? I : never;

/**
 * What a run of a task or contract resolves with: the JSON form ({@link Jsonify}) of its handler's
 * return type, because results travel as JSON (a handler's `Date` arrives as a string).
 */
export type TaskResult<T> = T extends TaskContract<infer _I, infer _O, infer R> ? Jsonify<R> : never;

/**
 * Define a task: its contract and its handler in one. Producers that should not bundle the
 * handler use {@link defineTaskContract} and {@link implementTask} instead.
 *
 * @example
 * ```ts
 * export const chargeOrder = defineTask({
 *   name: 'orders.charge',
 *   schema: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
 *   idempotencyKey: (a) => a.orderId,
 *   retry: { maxAttempts: 5 },
 *   async handler({ orderId, amountCents }, ctx) {
 *     return payments.charge({ orderId, amountCents, idempotencyKey: ctx.taskId });
 *   },
 * });
 * ```
 */
export function defineTask<S extends AnySchema, R>(
  definition: TaskDefinition<S, R>,
): Task<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, Awaited<R>> {
  const contract = resolveContract(definition, 'defineTask');
  return withHandler(contract, definition.handler, 'defineTask');
}

/**
 * Implement a contract: the task a worker registers. It has the contract's name and rules, so
 * what a producer enqueues with the contract is what this task runs. When the contract declared
 * its result with `.returns<R>()`, the handler must return an `R`; otherwise its return type is
 * the task's result type.
 *
 * @example
 * ```ts
 * import { chargeOrder } from './contracts.js';
 *
 * export const charge = implementTask(chargeOrder, async ({ orderId, amountCents }, ctx) => {
 *   const chargeId = await payments.charge({ orderId, amountCents, idempotencyKey: ctx.taskId });
 *   return { chargeId };
 * });
 * const spool = createSpool({ backend, tasks: [charge] });
 * ```
 */
export function implementTask<I, O, R, H extends R>(
  contract: TaskContract<I, O, R>,
  handler: (args: O, ctx: TaskContext) => H | Promise<H>,
): Task<I, O, unknown extends R ? H : R> {
  if (typeof contract?.name !== 'string' || typeof contract.schema?.['~standard']?.validate !== 'function') {
    throw new ConfigurationError(
      `implementTask: the first argument is ${describe(contract)}, not a task contract. ` +
        'Pass what defineTaskContract (or defineTask) returned, e.g. implementTask(chargeOrder, handler).',
    );
  }
  return withHandler(contract as AnyTaskContract, handler, 'implementTask');
}

/** The task of `contract` with `handler`: the contract's fields, copied, and the handler. */
function withHandler<T>(contract: AnyTaskContract, handler: unknown, caller: string): T {
  if (typeof handler !== 'function') {
    throw new ConfigurationError(
      `${caller}: handler of task '${contract.name}' is ${describe(handler)}, not a function. ` +
        'Pass the function that does the work: (args, ctx) => result.',
      { taskName: contract.name },
    );
  }
  const task: AnyTask = {
    name: contract.name,
    schema: contract.schema,
    handler: handler as AnyTask['handler'],
    retry: contract.retry,
    timeout: contract.timeout,
    leaseSeconds: contract.leaseSeconds,
    resultTtlSeconds: contract.resultTtlSeconds,
    ignoreResult: contract.ignoreResult,
    idempotencyKey: contract.idempotencyKey,
    unique: contract.unique,
    singletonKey: contract.singletonKey,
  };
  return task as T;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}
