/**
 * Task contracts: a producer enqueues a contract (no handler), a worker runs its implementation.
 * Type-level expectations are checked by `tsc` (test/ is type-checked); run-time behaviour runs
 * on the embedded backend in memory.
 */

import {
  ConfigurationError,
  createProducer,
  createSpool,
  defineTask,
  defineTaskContract,
  implementTask,
  type Producer,
  type Spool,
  silentLogger,
  type TaskArgs,
  TaskFailedError,
  type TaskHandle,
  type TaskResult,
} from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const charge = defineTaskContract({
  name: 'test.charge',
  schema: z.object({ orderId: z.string().min(1), amountCents: z.number().int().positive() }),
  idempotencyKey: (args) => args.orderId,
  retry: { maxAttempts: 2, minDelayMs: 1000, maxDelayMs: 1000 },
}).returns<{ chargeId: string; chargedAt: Date }>();

const untyped = defineTaskContract({ name: 'test.untyped', schema: z.object({ n: z.number() }) });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A producer and a worker app over one in-memory backend; the worker is started. */
async function producerAndWorker(tasks: Parameters<typeof createSpool>[0]['tasks']): Promise<{
  producer: Producer;
  spool: Spool;
}> {
  const backend = openEmbeddedBackend({ path: ':memory:' });
  const producer = createProducer({ backend, logger: silentLogger });
  const spool = createSpool({ backend, tasks, logger: silentLogger });
  const worker = spool.worker({ concurrency: 2, waitTimeSeconds: 1 });
  await worker.start();
  cleanups.push(
    () => spool.close(),
    () => worker.stop(),
  );
  return { producer, spool };
}

describe('task contracts', () => {
  it('GIVEN a contract with a declared result WHEN a producer enqueues it and a worker runs its implementation THEN the handle resolves the JSON form of the result', async () => {
    const chargedAt = new Date();
    const implemented = implementTask(charge, async ({ orderId, amountCents }, ctx) => {
      expectTypeOf(orderId).toEqualTypeOf<string>();
      expectTypeOf(amountCents).toEqualTypeOf<number>();
      return { chargeId: `ch_${orderId}_${amountCents}_${ctx.attempt}`, chargedAt };
    });
    const { producer } = await producerAndWorker([implemented]);

    const handle = await producer.enqueue(charge, { orderId: 'o-1', amountCents: 1200 });

    expectTypeOf(handle).toEqualTypeOf<TaskHandle<{ chargeId: string; chargedAt: string }>>();
    await expect(handle.result({ timeoutMs: 10_000 })).resolves.toEqual({
      chargeId: 'ch_o-1_1200_1',
      chargedAt: chargedAt.toISOString(),
    });
  });

  it('GIVEN a contract WHEN the producer enqueues the same order twice THEN its idempotency key makes them one run', async () => {
    const backend = openEmbeddedBackend({ path: ':memory:' });
    const producer = createProducer({ backend, logger: silentLogger });
    cleanups.push(() => producer.close());

    const first = await producer.enqueue(charge, { orderId: 'o-2', amountCents: 100 });
    const second = await producer.enqueue(charge, { orderId: 'o-2', amountCents: 999 });

    expect(second.id).toBe(first.id);
    expect(first.task).toBe('test.charge');
  });

  it('GIVEN a producer WHEN it enqueues wrong arguments THEN it is a compile error and a ValidationError, and nothing is sent', async () => {
    const backend = openEmbeddedBackend({ path: ':memory:' });
    const producer = createProducer({ backend, logger: silentLogger });
    cleanups.push(() => producer.close());

    // @ts-expect-error amountCents must be a number
    const attempt = producer.enqueue(charge, { orderId: 'o-3', amountCents: 'ten' });

    await expect(attempt).rejects.toThrow(/Invalid arguments for task 'test.charge' at enqueue: amountCents/);
    const stats = await backend.transport.tasks.stats();
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it('GIVEN a contract with a declared result WHEN implemented with a handler returning something else THEN it does not compile', () => {
    // @ts-expect-error the contract's result has chargeId and chargedAt
    const wrong = () => implementTask(charge, async () => ({ chargeId: 42 }));
    expectTypeOf(wrong).returns.toHaveProperty('handler');
  });

  it('GIVEN a contract without a declared result WHEN implemented THEN the task result is inferred from the handler, and unknown for producers', () => {
    const task = implementTask(untyped, ({ n }) => ({ doubled: n * 2, at: new Date() }));
    expectTypeOf<TaskResult<typeof task>>().toEqualTypeOf<{ doubled: number; at: string }>();
    expectTypeOf<TaskResult<typeof untyped>>().toBeUnknown();
    expectTypeOf<TaskArgs<typeof untyped>>().toEqualTypeOf<{ n: number }>();
    expect(task.name).toBe('test.untyped');
  });

  it('GIVEN a contract WHEN implemented THEN the task has the contract’s name and rules, and the contract stays handler-free', () => {
    const task = implementTask(charge, async ({ orderId }) => ({ chargeId: orderId, chargedAt: new Date() }));
    expect(task.name).toBe(charge.name);
    expect(task.retry).toEqual({ maxAttempts: 2, minDelayMs: 1000, maxDelayMs: 1000 });
    expect(task.idempotencyKey).toBe(charge.idempotencyKey);
    expect('handler' in charge).toBe(false);
    expect(typeof task.handler).toBe('function');
  });

  it('GIVEN a bare contract WHEN registered as a worker task THEN it is a compile error and createSpool says how to fix it', () => {
    const backend = openEmbeddedBackend({ path: ':memory:' });
    cleanups.push(() => backend.close());
    const register = () =>
      // @ts-expect-error a contract has no handler: workers need implementTask(contract, handler)
      createSpool({ backend, tasks: [charge], logger: silentLogger });
    expect(register).toThrow(ConfigurationError);
    expect(register).toThrow(
      /createSpool: task 'test.charge' has no handler .*register implementTask\(contract, handler\).*createProducer\(\{ backend \}\)/,
    );
  });

  it('GIVEN a worker that implements another task WHEN a producer enqueues a contract it does not know THEN the worker refuses it as an unknown task', async () => {
    const other = defineTask({ name: 'test.other', schema: z.object({}), handler: () => 'ok' });
    const { producer } = await producerAndWorker([other]);

    const handle = await producer.enqueue(untyped, { n: 1 });

    const failure = await handle.result({ timeoutMs: 10_000 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TaskFailedError);
    expect(failure).toMatchObject({ state: 'dead', errorName: 'UnknownTask' });
    expect(String((failure as Error).message)).toMatch(/unknown task 'test.untyped'; this worker runs: test.other/);
  });

  it('GIVEN a task from defineTask WHEN a producer enqueues it THEN a task is its own contract', async () => {
    const greet = defineTask({
      name: 'test.greet',
      schema: z.object({ name: z.string() }),
      handler: ({ name }) => ({ greeting: `hello ${name}`, at: new Date(0) }),
    });
    const { producer } = await producerAndWorker([greet]);

    const handle = await producer.enqueue(greet, { name: 'Ada' });

    expectTypeOf(handle).toEqualTypeOf<TaskHandle<{ greeting: string; at: string }>>();
    await expect(handle.result({ timeoutMs: 10_000 })).resolves.toEqual({
      greeting: 'hello Ada',
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('GIVEN invalid contract options WHEN defined THEN ConfigurationError names the option, the value and what is allowed', () => {
    expect(() => defineTaskContract({ name: 'bad name', schema: z.object({}) })).toThrow(
      /defineTaskContract: name is "bad name"; allowed: 1–200 characters of \[A-Za-z0-9_.:\/-\]/,
    );
    expect(() => defineTaskContract({ name: 'ok', schema: z.object({}), leaseSeconds: 0 })).toThrow(
      /leaseSeconds of task 'ok' is 0; allowed: an integer from 1 to 43200/,
    );
  });

  it('GIVEN something that is not a contract or a handler that is not a function WHEN implemented THEN ConfigurationError says what was given', () => {
    // @ts-expect-error not a contract
    expect(() => implementTask({ name: 'x' }, () => 1)).toThrow(
      /implementTask: the first argument is an object, not a task contract/,
    );
    // @ts-expect-error not a function
    expect(() => implementTask(untyped, 'handler')).toThrow(
      /implementTask: handler of task 'test.untyped' is "handler", not a function/,
    );
  });
});
