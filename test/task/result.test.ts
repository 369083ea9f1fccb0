/**
 * Results at run time, on the embedded backend in memory: what JSON carries arrives in its JSON
 * form; what it cannot carry fails the run at once with an InvalidResultError that names the
 * task, the place and what was found there.
 */

import { type AnyTask, createSpool, defineTask, type Spool, silentLogger, TaskFailedError } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { NESTED_TOO_DEEP } from '../../lib/protocol/canonical.js';
import { MAX_JSON_DEPTH } from '../../lib/protocol/limits.js';
import { encodeProgress, encodeResult } from '../../lib/task/result.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let count = 0;
/** A task named `result.<n>` whose handler returns `make()`. */
function returning<R>(make: () => R, options: { ignoreResult?: boolean } = {}) {
  count += 1;
  return defineTask({ name: `result.${count}`, schema: z.object({}), handler: make, ...options });
}

/** An app over an in-memory backend with a started worker. */
async function appWith(tasks: Parameters<typeof createSpool>[0]['tasks']): Promise<Spool> {
  const spool = createSpool({ backend: openEmbeddedBackend({ path: ':memory:' }), tasks, logger: silentLogger });
  const worker = spool.worker({ concurrency: 4, waitTimeSeconds: 1 });
  await worker.start();
  cleanups.push(
    () => spool.close(),
    () => worker.stop(),
  );
  return spool;
}

/** Run `task` once and return how its result() settled. */
async function settle(task: AnyTask) {
  const spool = await appWith([task]);
  const handle = await spool.enqueue(task, {});
  const outcome = await handle.result({ timeoutMs: 10_000 }).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  return { outcome, record: await handle.info() };
}

describe('results at run time', () => {
  it('GIVEN a handler returning a Date WHEN it runs THEN result() is typed and resolves as the ISO string', async () => {
    const at = new Date();
    const task = returning(() => ({ at, tags: new Set(['a']) }));
    const spool = await appWith([task]);

    const handle = await spool.enqueue(task, {});

    expectTypeOf(handle.result).returns.resolves.toEqualTypeOf<{ at: string; tags: Record<string, never> }>();
    await expect(handle.result({ timeoutMs: 10_000 })).resolves.toEqual({ at: at.toISOString(), tags: {} });
  });

  it('GIVEN a handler returning a bigint WHEN it runs THEN the run fails without retrying, naming the task, the place and the value', async () => {
    const task = returning(() => ({ order: { amount: 12n } }));

    const { outcome, record } = await settle(task);

    expect(outcome).toMatchObject({ error: expect.any(TaskFailedError) });
    expect(outcome).toMatchObject({ error: { state: 'failed', errorName: 'InvalidResultError' } });
    expect(record?.attempt).toBe(1);
    expect(record?.error?.message).toBe(
      `Task '${task.name}' returned a result that is not JSON: $.order.amount is a bigint (12n). ` +
        'A result is stored as JSON, so return strings, finite numbers, booleans, null, arrays and plain objects ' +
        '(a Date arrives as its ISO string): convert bigints to strings, non-finite numbers to null or a string, ' +
        'break cycles and flatten deep nesting. The run failed without retrying.',
    );
  });

  it('GIVEN a handler returning a circular value WHEN it runs THEN the run fails naming the cycle', async () => {
    const task = returning(() => {
      const node: { name: string; children: unknown[] } = { name: 'root', children: [] };
      node.children.push({ parent: node });
      return node;
    });

    const { outcome, record } = await settle(task);

    expect(outcome).toMatchObject({ error: { state: 'failed', errorName: 'InvalidResultError' } });
    expect(record?.error?.message).toMatch(/\$\.children\[0\]\.parent is a circular reference to \$\./);
  });

  it('GIVEN a handler returning NaN or Infinity inside its result WHEN it runs THEN the run fails instead of storing null', async () => {
    const task = returning(() => ({ ratios: [0.5, Number.NaN], ok: null }));

    const { outcome, record } = await settle(task);

    expect(outcome).toMatchObject({ error: { state: 'failed', errorName: 'InvalidResultError' } });
    expect(record?.error?.message).toMatch(/\$\.ratios\[1\] is NaN\./);
  });

  it('GIVEN a handler returning nothing, or a function WHEN it runs THEN it succeeds with no result, as before', async () => {
    const nothing = returning(() => undefined);
    const fn = returning(() => () => 1);
    const spool = await appWith([nothing, fn]);

    const [a, b] = await Promise.all([spool.enqueue(nothing, {}), spool.enqueue(fn, {})]);

    expectTypeOf(b.result).returns.resolves.toEqualTypeOf<undefined>();
    await expect(a.result({ timeoutMs: 10_000 })).resolves.toBeUndefined();
    await expect(b.result({ timeoutMs: 10_000 })).resolves.toBeUndefined();
    expect(await b.status()).toBe('succeeded');
  });

  it('GIVEN a task that ignores its result WHEN the handler returns a bigint THEN the run succeeds (nothing is stored)', async () => {
    const task = returning(() => 7n, { ignoreResult: true });

    const { outcome, record } = await settle(task);

    expect(outcome).toEqual({ value: undefined });
    expect(record?.state).toBe('succeeded');
  });
});

describe('encodeResult', () => {
  const context = { taskName: 'unit', taskId: 'id-1' };

  it('GIVEN JSON values with genuine nulls WHEN encoded THEN the text is JSON.stringify’s', () => {
    const value = { a: null, b: [1, null, 'x'], c: { d: new Date(0) } };
    expect(encodeResult(value, context)).toBe(JSON.stringify(value));
  });

  it('GIVEN a top-level undefined, function or symbol WHEN encoded THEN there is no result', () => {
    expect(encodeResult(undefined, context)).toBeUndefined();
    expect(encodeResult(() => 1, context)).toBeUndefined();
    expect(encodeResult(Symbol('s'), context)).toBeUndefined();
  });

  it('GIVEN values JSON cannot carry WHEN encoded THEN InvalidResultError gives the path and what is there', () => {
    const throwing = {
      toJSON() {
        throw new Error('boom');
      },
    };
    const cases: [unknown, string, string][] = [
      [5n, '$', 'a bigint (5n)'],
      [{ list: [1, { x: Number.POSITIVE_INFINITY }] }, '$.list[1].x', 'Infinity'],
      [{ inner: throwing }, '$.inner', 'an object whose toJSON() threw (Error: boom)'],
    ];
    for (const [value, path, what] of cases) {
      expect(() => encodeResult(value, context)).toThrow(
        expect.objectContaining({
          name: 'InvalidResultError',
          path,
          taskName: 'unit',
          taskId: 'id-1',
          message: expect.stringContaining(`Task 'unit' returned a result that is not JSON: ${path} is ${what}.`),
        }),
      );
    }
  });

  it('GIVEN the same object twice but no cycle WHEN encoded THEN it is accepted', () => {
    const shared = { n: 1 };
    expect(encodeResult({ a: shared, b: shared }, context)).toBe('{"a":{"n":1},"b":{"n":1}}');
  });
});

describe('encodeResult and encodeProgress at depth', () => {
  const context = { taskName: 'unit', taskId: 'id-1' };
  const nested = (depth: number, leaf: unknown = 1): unknown => {
    let value: unknown = leaf;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };

  it(`GIVEN a result nested exactly ${MAX_JSON_DEPTH} deep (with a null) WHEN encoded THEN it is accepted`, () => {
    expect(encodeResult(nested(MAX_JSON_DEPTH, null), context)).toBe(JSON.stringify(nested(MAX_JSON_DEPTH, null)));
  });

  it.each([MAX_JSON_DEPTH + 1, 10_000, 200_000])(
    'GIVEN a result nested %i deep WHEN encoded THEN InvalidResultError names the path and the limit (no RangeError)',
    (depth) => {
      expect(() => encodeResult(nested(depth), context)).toThrow(
        expect.objectContaining({
          name: 'InvalidResultError',
          path: `$${'[0]'.repeat(MAX_JSON_DEPTH)}`,
          message: expect.stringContaining(`returned a result that is not JSON: $[0][0]`),
        }),
      );
      expect(() => encodeResult(nested(depth), context)).toThrow(NESTED_TOO_DEEP);
    },
  );

  it('GIVEN a cycle deep inside WHEN encoded THEN the cycle is named, by the iterative walk', () => {
    const leaf: Record<string, unknown> = {};
    const value = nested(100, leaf);
    leaf.back = value;
    expect(() => encodeResult(value, context)).toThrow(
      expect.objectContaining({
        path: `$${'[0]'.repeat(100)}.back`,
        message: expect.stringContaining('… is a circular reference to $.'),
      }),
    );
  });

  it('GIVEN progress values WHEN encoded THEN undefined is null, and what JSON has no text for is refused with the path', () => {
    expect(encodeProgress(undefined, context)).toBe('null');
    expect(encodeProgress({ done: 3, of: 10 }, context)).toBe('{"done":3,"of":10}');
    expect(() => encodeProgress(() => 1, context)).toThrow(
      /Task 'unit' passed ctx\.progress\(\) a value that is not JSON: \$ is a function\./,
    );
    expect(() => encodeProgress({ n: [1, 2n] }, context)).toThrow(
      expect.objectContaining({ name: 'InvalidResultError', code: 'INVALID_RESULT', path: '$.n[1]' }),
    );
  });
});
