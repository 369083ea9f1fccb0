/**
 * `defineTask`: a named, typed function with its schema and run options.
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Logger } from '../log/logger.js';
import { isValidTaskName } from '../protocol/envelope.js';
import { ConfigurationError } from './errors.js';
import { type RetryOptions, type RetryPolicy, resolveRetry } from './retry.js';
import type { AnySchema } from './schema.js';

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
   * Aborted when the soft timeout passes, the run is cancelled, the hard timeout passes, or the
   * worker shuts down. `signal.reason` says which. Pass it to `fetch` and friends.
   */
  readonly signal: AbortSignal;
  /** A logger whose lines carry taskId, task and attempt. */
  readonly logger: Logger;
  /** Record progress (any JSON value); readable through `handle.info()` and `spool inspect`. */
  progress(value: unknown): Promise<void>;
}

/** Timeouts of one attempt. */
export interface TimeoutOptions {
  /**
   * After this many ms `ctx.signal` aborts with a `TimeoutError`; the handler may wind down.
   * @default no soft timeout
   */
  readonly softMs?: number;
  /**
   * After this many ms the attempt is abandoned and counted as failed (`HardTimeoutError`), and
   * its lease is released so the run can be retried. JavaScript cannot stop a running function:
   * code that ignores `ctx.signal` keeps running in the background until it returns.
   * @default no hard timeout
   */
  readonly hardMs?: number;
}

/** Options of {@link defineTask}. `I` is the schema's input type, `O` its output, `R` the result. */
export interface TaskDefinition<S extends AnySchema, R> {
  /** The task's name: 1–200 characters of `[A-Za-z0-9_.:/-]`, unique within an app. */
  readonly name: string;
  /** Standard Schema for the arguments (zod, valibot, arktype, …). */
  readonly schema: S;
  /** The work. Its return value must be JSON-serialisable; it is stored as the run's result. */
  readonly handler: (args: StandardSchemaV1.InferOutput<S>, ctx: TaskContext) => R | Promise<R>;
  /** Retry policy. @default {@link DEFAULT_RETRY} (3 attempts, 1 s – 5 min backoff with full jitter) */
  readonly retry?: RetryOptions;
  /** Attempt timeouts. @default none */
  readonly timeout?: TimeoutOptions;
  /**
   * Lease length in seconds: how long a worker owns a run before another may take it over if the
   * first stops heartbeating. A live worker renews it every third of this, so it bounds how long a
   * crash delays the retry, not how long a task may run.
   * @default 30
   */
  readonly leaseSeconds?: number;
  /**
   * What makes two enqueues the same run. A function of the arguments gives the key
   * (e.g. `(a) => a.orderId`); `false` makes every enqueue a new run.
   * @default the canonical JSON of the arguments
   */
  readonly idempotencyKey?: ((args: StandardSchemaV1.InferInput<S>) => string) | false;
  /**
   * celery-once: while a run with the same unique key is queued or running, enqueue returns its
   * handle instead of a new run. The lock expires after `ttlSeconds` even if the run never ends.
   * @default not unique
   */
  readonly unique?: {
    /** @default the idempotency key */
    readonly key?: (args: StandardSchemaV1.InferInput<S>) => string;
    readonly ttlSeconds: number;
  };
  /**
   * At most one run of this task per key is running at any time; others wait their turn.
   * `true` means one key for the whole task.
   * @default not a singleton
   */
  readonly singleton?: true | { readonly key: (args: StandardSchemaV1.InferInput<S>) => string };
  /**
   * Do not store the handler's return value (the run's state is still recorded).
   * @default false
   */
  readonly ignoreResult?: boolean;
  /**
   * How long a finished run's record (state, result, error) is kept, in seconds. Duplicates
   * delivered within this time are recognised as duplicates.
   * @default 604800 (7 days)
   */
  readonly resultTtlSeconds?: number;
}

/** Defaults of task options, in one place. */
export const TASK_DEFAULTS = {
  leaseSeconds: 30,
  resultTtlSeconds: 604_800,
} as const;

/** A defined task. Pass it to `enqueue`; register it with `createSpool({ tasks })`. */
export interface Task<I = unknown, O = unknown, R = unknown> {
  readonly name: string;
  readonly schema: StandardSchemaV1<I, O>;
  readonly handler: (args: O, ctx: TaskContext) => R | Promise<R>;
  readonly retry: RetryPolicy;
  readonly timeout: TimeoutOptions;
  readonly leaseSeconds: number;
  readonly resultTtlSeconds: number;
  readonly ignoreResult: boolean;
  readonly idempotencyKey: ((args: I) => string) | false | undefined;
  readonly unique: { readonly key: ((args: I) => string) | undefined; readonly ttlSeconds: number } | undefined;
  readonly singletonKey: ((args: I) => string) | undefined;
}

/** Any task, whatever its types. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds tasks of every argument and result type.
export type AnyTask = Task<any, any, any>;

/** The argument type a task accepts at enqueue. */
export type TaskArgs<T> = T extends Task<infer I, infer _O, infer _R> ? I : never;
/** The result type of a task's handler. */
export type TaskResult<T> = T extends Task<infer _I, infer _O, infer R> ? R : never;

/**
 * Define a task.
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
  const { name } = definition;
  const fail = (what: string): never => {
    throw new ConfigurationError(`defineTask: ${what}. Fix the task definition.`, { taskName: String(name) });
  };
  if (typeof name !== 'string' || !isValidTaskName(name)) {
    fail(`name is ${JSON.stringify(name)}; allowed: 1–200 characters of [A-Za-z0-9_.:/-]`);
  }
  if (typeof definition.schema?.['~standard']?.validate !== 'function') {
    fail(`schema of task '${name}' is not a Standard Schema (zod ≥ 3.24, valibot ≥ 1, arktype ≥ 2 are)`);
  }
  if (typeof definition.handler !== 'function') fail(`handler of task '${name}' is not a function`);
  const leaseSeconds = definition.leaseSeconds ?? TASK_DEFAULTS.leaseSeconds;
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 43_200) {
    fail(`leaseSeconds of task '${name}' is ${leaseSeconds}; allowed: an integer from 1 to 43200 (12 hours)`);
  }
  const resultTtlSeconds = definition.resultTtlSeconds ?? TASK_DEFAULTS.resultTtlSeconds;
  if (!Number.isInteger(resultTtlSeconds) || resultTtlSeconds < 1) {
    fail(`resultTtlSeconds of task '${name}' is ${resultTtlSeconds}; allowed: an integer ≥ 1`);
  }
  const timeout = definition.timeout ?? {};
  for (const key of ['softMs', 'hardMs'] as const) {
    const value = timeout[key];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      fail(`timeout.${key} of task '${name}' is ${value}; allowed: a number of ms > 0, or leave it out`);
    }
  }
  if (definition.unique !== undefined) {
    const ttl = definition.unique.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1) {
      fail(`unique.ttlSeconds of task '${name}' is ${ttl}; allowed: an integer ≥ 1`);
    }
  }
  const singleton = definition.singleton;
  return {
    name,
    schema: definition.schema as StandardSchemaV1<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>>,
    handler: definition.handler as Task<
      StandardSchemaV1.InferInput<S>,
      StandardSchemaV1.InferOutput<S>,
      Awaited<R>
    >['handler'],
    retry: resolveRetry(name, definition.retry),
    timeout,
    leaseSeconds,
    resultTtlSeconds,
    ignoreResult: definition.ignoreResult ?? false,
    idempotencyKey: definition.idempotencyKey,
    unique:
      definition.unique === undefined
        ? undefined
        : { key: definition.unique.key, ttlSeconds: definition.unique.ttlSeconds },
    singletonKey: singleton === undefined ? undefined : singleton === true ? () => name : singleton.key,
  };
}
