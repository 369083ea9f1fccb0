/**
 * `defineTaskContract`: everything about a task but its handler — its name, argument schema,
 * result type and the rules of its runs. A producer (a web server, a producer Lambda) imports
 * the contract and enqueues it without bundling the handler and what the handler imports; a
 * worker turns the same contract into a task with `implementTask(contract, handler)`.
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { isValidTaskName, TASK_NAME_FORMAT } from '../protocol/ids.js';
import { DEFAULT_LEASE_SECONDS, DEFAULT_RETENTION_SECONDS, MAX_VISIBILITY_SECONDS } from '../protocol/limits.js';
import { ConfigurationError } from './errors.js';
import { type RetryOptions, type RetryPolicy, resolveRetry } from './retry.js';
import type { AnySchema } from './schema.js';

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

/**
 * Options of {@link defineTaskContract}: a task's definition without its handler. `S` is the
 * argument schema. Producer and worker read the same contract, so they cannot disagree on it.
 */
export interface TaskContractDefinition<S extends AnySchema> {
  /** The task's name: 1–200 characters of `[A-Za-z0-9_.:/-]` (`TASK_NAME_FORMAT`), unique within an app. */
  readonly name: string;
  /** Standard Schema for the arguments (zod, valibot, arktype, …). */
  readonly schema: S;
  /**
   * Retry policy.
   * @default {@link DEFAULT_RETRY}: 3 attempts, each backoff drawn uniformly between 1 s and the
   * exponential 1 s × 2^attempt, capped at 5 min
   */
  readonly retry?: RetryOptions;
  /** Attempt timeouts. @default none */
  readonly timeout?: TimeoutOptions;
  /**
   * Lease length in seconds (1 to 43,200: 12 hours, SQS's longest visibility timeout, which
   * heartbeats extend by this much): how long a worker owns a run before another may take it over
   * if the first stops heartbeating. A live worker renews it every third of this, so it bounds how
   * long a crash delays the retry, not how long a task may run.
   * @default 30 (`DEFAULT_LEASE_SECONDS`, also the default visibility timeout)
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
   * @default 604800 (7 days, `DEFAULT_RETENTION_SECONDS`)
   */
  readonly resultTtlSeconds?: number;
}

/** Defaults of task options, in one place (from `lib/protocol/limits.ts`). */
export const TASK_DEFAULTS = {
  /** {@link TaskContractDefinition.leaseSeconds}: `DEFAULT_LEASE_SECONDS`. */
  leaseSeconds: DEFAULT_LEASE_SECONDS,
  /** {@link TaskContractDefinition.resultTtlSeconds}: `DEFAULT_RETENTION_SECONDS`. */
  resultTtlSeconds: DEFAULT_RETENTION_SECONDS,
} as const;

/**
 * A task's contract: what producers need to enqueue it and follow its runs. `I` is the argument
 * type at enqueue (the schema's input), `O` what the handler gets (the schema's output), `R` the
 * handler's return type. Enqueue it with `spool.enqueue` or `producer.enqueue`; implement it with
 * {@link implementTask}. Every task made by `defineTask` is also its own contract.
 */
export interface TaskContract<I = unknown, O = unknown, R = unknown> {
  readonly name: string;
  readonly schema: StandardSchemaV1<I, O>;
  readonly retry: RetryPolicy;
  readonly timeout: TimeoutOptions;
  readonly leaseSeconds: number;
  readonly resultTtlSeconds: number;
  readonly ignoreResult: boolean;
  readonly idempotencyKey: ((args: I) => string) | false | undefined;
  readonly unique: { readonly key: ((args: I) => string) | undefined; readonly ttlSeconds: number } | undefined;
  readonly singletonKey: ((args: I) => string) | undefined;
  /**
   * Types only, never set: the handler's return type, declared by {@link ContractResultDeclaration.returns}
   * or inferred from the handler. What a handle's `result()` resolves is its JSON form, `Jsonify<R>`.
   */
  readonly '~result'?: R;
}

/** Any contract, whatever its types. */
// biome-ignore lint/suspicious/noExplicitAny: producers enqueue contracts of every argument and result type.
export type AnyTaskContract = TaskContract<any, any, any>;

/** What {@link defineTaskContract} adds to a contract: a way to declare the result type. */
export interface ContractResultDeclaration<I, O> {
  /**
   * Declare what the handler returns (types only: nothing is checked at run time by this call).
   * `implementTask` then requires a handler that returns it, and handles resolve its JSON form.
   * Without it, the result type is `unknown` for producers and inferred from the handler for workers.
   */
  returns<R>(): TaskContract<I, O, R>;
}

/**
 * Define a task's contract: its name, argument schema and run rules, without the handler. Put
 * contracts in a module of their own that imports only the schema library, so a producer that
 * imports it does not bundle the handlers.
 *
 * @example
 * ```ts
 * // contracts.ts: imported by producers and workers
 * export const chargeOrder = defineTaskContract({
 *   name: 'orders.charge',
 *   schema: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
 *   idempotencyKey: (a) => a.orderId,
 *   retry: { maxAttempts: 5 },
 * }).returns<{ chargeId: string }>();
 *
 * // producer.ts: no handler code in its bundle
 * const producer = createProducer({ backend: openAwsBackend() });
 * const run = await producer.enqueue(chargeOrder, { orderId: 'o-1', amountCents: 1200 });
 * const { chargeId } = await run.result();
 *
 * // worker.ts
 * const charge = implementTask(chargeOrder, async ({ orderId, amountCents }, ctx) => ({
 *   chargeId: await payments.charge({ orderId, amountCents, idempotencyKey: ctx.taskId }),
 * }));
 * const spool = createSpool({ backend, tasks: [charge] });
 * ```
 */
export function defineTaskContract<S extends AnySchema>(
  definition: TaskContractDefinition<S>,
): TaskContract<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, unknown> &
  ContractResultDeclaration<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>> {
  const contract = resolveContract(definition, 'defineTaskContract');
  return { ...contract, returns: () => contract };
}

/**
 * Check a definition and fill in its defaults; throws a {@link ConfigurationError} that names the
 * task, the option, the value and what is allowed. `caller` names the function in the message.
 */
export function resolveContract<S extends AnySchema>(
  definition: TaskContractDefinition<S>,
  caller: string,
): TaskContract<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, never> {
  const { name } = definition;
  const fail = (what: string): never => {
    throw new ConfigurationError(`${caller}: ${what}. Fix the task definition.`, { taskName: String(name) });
  };
  if (typeof name !== 'string' || !isValidTaskName(name)) {
    fail(`name is ${JSON.stringify(name)}; allowed: ${TASK_NAME_FORMAT}`);
  }
  if (typeof definition.schema?.['~standard']?.validate !== 'function') {
    fail(`schema of task '${name}' is not a Standard Schema (zod ≥ 3.24, valibot ≥ 1, arktype ≥ 2 are)`);
  }
  const leaseSeconds = definition.leaseSeconds ?? TASK_DEFAULTS.leaseSeconds;
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > MAX_VISIBILITY_SECONDS) {
    fail(
      `leaseSeconds of task '${name}' is ${leaseSeconds}; allowed: an integer from 1 to ${MAX_VISIBILITY_SECONDS} (12 hours)`,
    );
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
