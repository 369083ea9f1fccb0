/**
 * Faults a handler (or a producer, or a raw message) can cause, and how both backends end them
 * alike: no promise spool hands a handler can take a worker down, values are checked before they
 * are written (so DynamoDB's 400 KB item and SQLite end a run the same way), a shutdown does not
 * burn an attempt, and deep input is refused the same way by the producer and the worker.
 */

import {
  type ClaimInput,
  defineTask,
  EnqueueError,
  type HeartbeatInput,
  listDeadLetters,
  NonRetriableError,
  type Spool,
  TaskFailedError,
  type TaskRecord,
  type TaskStore,
} from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordBytes } from '../../lib/backend/store-rules.js';
import { NESTED_TOO_DEEP } from '../../lib/protocol/canonical.js';
import {
  MAX_ERROR_MESSAGE_BYTES,
  MAX_JSON_DEPTH,
  MAX_PROGRESS_BYTES,
  MAX_RECORD_BYTES,
} from '../../lib/protocol/limits.js';
import { type BackendFactory, queueDepth, suffix, useHarness, waitFor, waitForDeadLetters } from './harness.js';

/** `1` inside `depth` arrays: `[[…[1]…]]`. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** The JSON text of {@link nested}, built without recursion. */
function nestedJson(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/** The failure `handle.result()` rejects with. */
async function failureOf(spool: Spool, id: string): Promise<TaskFailedError> {
  const error = await spool
    .handle(id)
    .result({ timeoutMs: 15_000 })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
}

/** Collects the process's unhandled rejections while `body` runs. */
async function watchingUnhandledRejections(body: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await body();
    // An unhandled rejection is reported after the microtasks of its turn: give it a few turns.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return unhandled;
}

/** `store`, except that every heartbeat that writes progress fails, as a throttled DynamoDB would. */
function failingProgressWrites(store: TaskStore): TaskStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'heartbeat') {
        return (input: HeartbeatInput) =>
          input.progress === undefined
            ? target.heartbeat(input)
            : Promise.reject(
                Object.assign(new Error('Rate of requests exceeds the allowed throughput (injected)'), {
                  name: 'ProvisionedThroughputExceededException',
                }),
              );
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * A store whose first claim is taken over at once by another worker, and reported with a lease
 * that ends now: what an attempt sees when its thread was blocked for a lease between its claim
 * and its start.
 */
function claimsTakenOver(store: TaskStore): TaskStore {
  let first = true;
  return new Proxy(store, {
    get(target, key) {
      if (key === 'claim') {
        return async (input: ClaimInput) => {
          const result = await target.claim(input);
          if (!first || result.outcome !== 'claimed') return result;
          first = false;
          await target.claim({ ...input, owner: 'another-worker', now: input.now + input.leaseMs + 1 });
          return { ...result, record: { ...result.record, leaseExpiresAt: input.now } };
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export function faults(factory: BackendFactory) {
  const app = useHarness(factory);
  const appWithTakenOverClaims = useHarness({
    name: `${factory.name}, claims taken over`,
    async create(options) {
      const backend = await factory.create(options);
      return { ...backend, store: claimsTakenOver(backend.store) };
    },
  });

  describe('faults: a thread blocked between a claim and its handler', () => {
    it('GIVEN a claim whose lease lapsed and was taken over before the attempt started WHEN the attempt starts THEN it renews first, finds the lease lost and never runs the handler', async () => {
      let runs = 0;
      const task = defineTask({
        name: `faults.takenOver.${suffix()}`,
        schema: z.object({}),
        leaseSeconds: 2,
        handler: () => {
          runs += 1;
        },
      });
      const { spool, logs } = await appWithTakenOverClaims([task]);
      await spool.enqueue(task, {});
      await waitFor(() => logs.some((l) => l.message === 'attempt abandoned: lease lost'), 15_000, 'the lost lease');
      expect(runs).toBe(0);
    });
  });
  const appWithFailingProgress = useHarness({
    name: `${factory.name}, progress writes failing`,
    async create(options) {
      const backend = await factory.create(options);
      return { ...backend, store: failingProgressWrites(backend.store) };
    },
  });

  describe('faults: a handler cannot take a worker down through a promise it did not await', () => {
    it('GIVEN a handler that fires ctx.progress(10n) and an oversize progress without awaiting WHEN it runs THEN no unhandled rejection fires, each failure is logged with the task id, and the run succeeds', async () => {
      const t = defineTask({
        name: `floating.${suffix()}`,
        schema: z.object({ i: z.number() }),
        handler: async ({ i }, ctx) => {
          void ctx.progress(10n as never);
          void ctx.progress('p'.repeat(MAX_PROGRESS_BYTES + 1));
          await new Promise((resolve) => setTimeout(resolve, 50));
          return i;
        },
      });
      const { spool, logs } = await app([t]);
      let first = '';
      const unhandled = await watchingUnhandledRejections(async () => {
        const h = await spool.enqueue(t, { i: 1 });
        first = h.id;
        await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe(1);
        // The worker is still there: the next run runs too.
        await expect((await spool.enqueue(t, { i: 2 })).result({ timeoutMs: 15_000 })).resolves.toBe(2);
      });
      expect(unhandled).toEqual([]);
      const warned = logs.filter(
        (l) => l.message === 'progress not recorded; the attempt goes on' && l.taskId === first,
      );
      expect(warned).toHaveLength(2);
      const oversize = MAX_PROGRESS_BYTES + 3; // the string and its quotes
      expect(warned.map((l) => (l.error as { message: string }).message).sort()).toEqual([
        expect.stringContaining(
          `passed ctx.progress() a value of ${oversize} bytes as JSON; progress is stored up to ${MAX_PROGRESS_BYTES} bytes`,
        ),
        expect.stringMatching(/passed ctx\.progress\(\) a value that is not JSON: \$ is a bigint \(10n\)/),
      ]);
      expect(warned.every((l) => l.level === 'warn')).toBe(true);
      const info = await spool.handle(first).info();
      expect(info?.state).toBe('succeeded');
      expect(info?.progress).toBeUndefined();
    });

    it('GIVEN a handler that awaits ctx.progress with a value that is not JSON THEN it rejects with InvalidResultError naming the path, and the attempt goes on', async () => {
      let caught: unknown;
      const t = defineTask({
        name: `awaitedbad.${suffix()}`,
        schema: z.object({}),
        handler: async (_a, ctx) => {
          await ctx.progress({ step: 1 });
          caught = await ctx.progress({ rows: [1, { n: 10n }] }).catch((e: unknown) => e);
          return 'done';
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe('done');
      expect(caught).toMatchObject({
        name: 'InvalidResultError',
        code: 'INVALID_RESULT',
        path: '$.rows[1].n',
        taskId: h.id,
        message: expect.stringMatching(
          /a value that is not JSON: \$\.rows\[1\]\.n is a bigint \(10n\)\..*not recorded/,
        ),
      });
      // The record keeps the last value accepted.
      expect((await h.info())?.progress).toBe('{"step":1}');
    });

    it('GIVEN a handler that awaits an oversize progress and lets the error propagate THEN the run fails after one attempt, with the size and the limit', async () => {
      let calls = 0;
      const t = defineTask({
        name: `awaitedbig.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 3, minDelayMs: 0, maxDelayMs: 0 },
        handler: async (_a, ctx) => {
          calls++;
          await ctx.progress('p'.repeat(500_000));
          return 'unreachable';
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      const failure = await failureOf(spool, h.id);
      expect(failure.state).toBe('failed');
      expect(failure.errorName).toBe('InvalidResultError');
      expect(failure.message).toMatch(
        new RegExp(`a value of 500002 bytes as JSON; progress is stored up to ${MAX_PROGRESS_BYTES} bytes`),
      );
      expect(calls).toBe(1);
      expect((await h.info())?.progress).toBeUndefined();
    });

    it('GIVEN progress writes that the store fails (a transient error) WHEN a handler does not await them THEN the failure is logged and the run succeeds; WHEN it awaits THEN it sees the store error', async () => {
      let awaited: unknown;
      const t = defineTask({
        name: `throttled.${suffix()}`,
        schema: z.object({}),
        handler: async (_a, ctx) => {
          void ctx.progress({ step: 1 });
          awaited = await ctx.progress({ step: 2 }).catch((e: unknown) => e);
          return 'done';
        },
      });
      const { spool, logs } = await appWithFailingProgress([t]);
      const unhandled = await watchingUnhandledRejections(async () => {
        const h = await spool.enqueue(t, {});
        await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe('done');
        // The finish records the last value accepted, which the failed writes did not.
        expect((await h.info())?.progress).toBe('{"step":2}');
      });
      expect(unhandled).toEqual([]);
      expect(awaited).toMatchObject({ name: 'ProvisionedThroughputExceededException' });
      const warned = logs.filter((l) => l.message === 'progress not recorded; the attempt goes on');
      expect(warned).toHaveLength(2);
      expect(warned[0]).toMatchObject({ level: 'warn', task: t.name, taskId: expect.any(String), attempt: 1 });
    });
  });

  describe('faults: values are checked before they are written, the same way on both backends', () => {
    const circular = () => {
      const order: Record<string, unknown> = { id: 1 };
      order.self = order;
      return order;
    };
    const throwing = () => ({
      toJSON() {
        throw new Error('cannot serialise');
      },
    });
    it.each([
      ['a bigint', () => ({ total: 10n }), /\$\.total is a bigint \(10n\)/],
      ['a circular object', circular, /\$\.self is a circular reference to \$/],
      ['a throwing toJSON', throwing, /\$ is an object whose toJSON\(\) threw \(Error: cannot serialise\)/],
      [
        'nesting 10,000 deep',
        () => nested(10_000),
        new RegExp(`\\$\\[0\\]\\[0\\].*… is nested more than ${MAX_JSON_DEPTH} levels deep`),
      ],
    ])(
      'GIVEN a result that is %s THEN the run fails at once, without retrying, with the path and the reason',
      async (_what, make, reason) => {
        let calls = 0;
        const t = defineTask({
          name: `badresult.${suffix()}`,
          schema: z.object({}),
          retry: { maxAttempts: 3, minDelayMs: 0, maxDelayMs: 0 },
          handler: () => {
            calls++;
            return make() as never;
          },
        });
        const { spool } = await app([t]);
        const h = await spool.enqueue(t, {});
        const failure = await failureOf(spool, h.id);
        expect(failure.state).toBe('failed');
        expect(failure.errorName).toBe('InvalidResultError');
        expect(failure.message).toMatch(reason);
        expect(calls).toBe(1);
        expect((await h.info())?.attempt).toBe(1);
        expect(await listDeadLetters(spool.backend, { limit: 10 })).toHaveLength(0);
      },
    );

    it('GIVEN a 349 KB result after 60 KB of progress THEN the record would be too large, so the result is kept as a blob and the run succeeds once', async () => {
      let calls = 0;
      const t = defineTask({
        name: `bigrecord.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 3, minDelayMs: 0, maxDelayMs: 0 },
        handler: async (_a, ctx) => {
          calls++;
          await ctx.progress('p'.repeat(60_000));
          return 'r'.repeat(349_000); // under MAX_RESULT_BYTES on its own
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      expect(await h.result({ timeoutMs: 15_000 })).toBe('r'.repeat(349_000));
      expect(calls).toBe(1);
      const stored = await spool.backend.store.get(h.id);
      expect(stored?.result).toBeUndefined();
      expect(stored?.resultRef?.bytes).toBe(349_002);
      expect(stored?.progress).toBe(JSON.stringify('p'.repeat(60_000)));
      // What the record keeps fits it, as DynamoDB counts an item.
      expect(recordBytes(stored as TaskRecord)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    });

    it('GIVEN a NonRetriableError with a 500 KB message THEN the run fails once, its message cut to the documented maximum with its size', async () => {
      let calls = 0;
      const t = defineTask({
        name: `bigerror.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 3, minDelayMs: 0, maxDelayMs: 0 },
        handler: () => {
          calls++;
          throw new NonRetriableError(`declined: ${'e'.repeat(500_000)}`);
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      const failure = await failureOf(spool, h.id);
      expect(failure.state).toBe('failed');
      expect(failure.errorName).toBe('NonRetriableError');
      expect(calls).toBe(1);
      const error = (await spool.backend.store.get(h.id))?.error;
      expect((await h.info())?.error?.message).toBe(`declined: ${'e'.repeat(500_000)}`);
      expect(error?.messageRef?.bytes).toBe(500_010);
      expect(error?.message).toMatch(
        /^declined: e+ \.\.\. \[cut: the message is 500010 bytes; spool stores error messages up to 8192 bytes/,
      );
      expect(Buffer.byteLength(error?.message ?? '', 'utf8')).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    });

    it('GIVEN a retriable error with a 500 KB message on every attempt THEN the run retries and ends dead, its message cut', async () => {
      let calls = 0;
      const t = defineTask({
        name: `bigerror.retry.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts: 2, minDelayMs: 0, maxDelayMs: 0 },
        handler: () => {
          calls++;
          throw new Error('x'.repeat(500_000));
        },
      });
      const { spool } = await app([t]);
      const h = await spool.enqueue(t, {});
      const failure = await failureOf(spool, h.id);
      expect(failure.state).toBe('dead');
      expect(calls).toBe(2);
      const dead = await waitForDeadLetters(spool, 1);
      expect(dead[0]?.errorName).toBe('Error');
      expect(
        Buffer.byteLength((await spool.backend.store.get(h.id))?.error?.message ?? '', 'utf8'),
      ).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    });
  });

  describe('faults: a shutdown does not burn an attempt', () => {
    /** A task whose attempts block until their signal aborts, except those `finishes` lets through. */
    const blocking = (maxAttempts: number, finishes: (call: number) => boolean, attempts: number[]) =>
      defineTask({
        name: `lastattempt.${suffix()}`,
        schema: z.object({}),
        retry: { maxAttempts, minDelayMs: 0, maxDelayMs: 0 },
        handler: async (_a, ctx) => {
          attempts.push(ctx.attempt);
          const call = attempts.length;
          if (finishes(call)) return `finished on call ${call}`;
          if (call === 1 && maxAttempts > 1) throw new Error('the first attempt fails');
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          throw ctx.signal.reason;
        },
      });

    it('GIVEN maxAttempts: 1 WHEN the worker stops during the attempt (past its grace) THEN the attempt is given back, and another worker completes the run with attempt 1', async () => {
      const attempts: number[] = [];
      const t = blocking(1, (call) => call === 2, attempts);
      const { spool, startWorker } = await app([t], { worker: false });
      const first = await startWorker({ shutdownGraceMs: 100 });
      const h = await spool.enqueue(t, {});
      await waitFor(() => attempts.length === 1, 15_000, 'the attempt to start');
      await first.stop();
      const released = await h.info();
      expect(released?.state).toBe('retrying');
      expect(released?.attempt).toBe(0);
      expect(released?.error?.name).toBe('AttemptAbortedError');
      await startWorker();
      await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe('finished on call 2');
      expect(attempts).toEqual([1, 1]);
      const info = await h.info();
      expect(info?.state).toBe('succeeded');
      expect(info?.attempt).toBe(1);
      expect(await listDeadLetters(spool.backend, { limit: 10 })).toHaveLength(0);
    });

    it('GIVEN the last of 2 attempts WHEN the worker stops during it THEN another worker completes the run with attempt 2', async () => {
      const attempts: number[] = [];
      const t = blocking(2, (call) => call === 3, attempts);
      const { spool, startWorker } = await app([t], { worker: false });
      const first = await startWorker({ shutdownGraceMs: 100 });
      const h = await spool.enqueue(t, {});
      await waitFor(() => attempts.length === 2, 15_000, 'the second attempt to start');
      await first.stop();
      expect((await h.info())?.attempt).toBe(1);
      await startWorker();
      await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe('finished on call 3');
      expect(attempts).toEqual([1, 2, 2]);
      expect((await h.info())?.attempt).toBe(2);
    });
  });

  describe('faults: deep input is refused alike by the producer and the worker', () => {
    const echo = () =>
      defineTask({ name: `deep.${suffix()}`, schema: z.object({ tree: z.unknown() }), handler: () => 'ran' });
    const send = (spool: Spool, body: string, id: string) =>
      spool.backend.transport.tasks.send([{ body, deduplicationId: id, groupId: id }]);

    it('GIVEN arguments nested 10,000 deep WHEN enqueued THEN EnqueueError ARGUMENTS_NOT_JSON names the path and the limit, and nothing is sent', async () => {
      const t = echo();
      const { spool } = await app([t], { worker: false });
      const attempt = spool.enqueue(t, { tree: nested(10_000) });
      await expect(attempt).rejects.toBeInstanceOf(EnqueueError);
      await expect(attempt).rejects.toMatchObject({
        code: 'ARGUMENTS_NOT_JSON',
        message: expect.stringContaining(`$.tree[0][0]`),
      });
      await expect(attempt).rejects.toThrow(NESTED_TOO_DEEP);
      await expect(attempt).rejects.toThrow(/Nothing was enqueued/);
      expect(await queueDepth(spool)).toBe(0);
    });

    it(`GIVEN arguments nested exactly ${MAX_JSON_DEPTH} deep WHEN enqueued THEN they run`, async () => {
      const t = echo();
      const { spool } = await app([t]);
      // `{ tree: … }` is one level: the tree may nest one less.
      const h = await spool.enqueue(t, { tree: nested(MAX_JSON_DEPTH - 1) });
      await expect(h.result({ timeoutMs: 15_000 })).resolves.toBe('ran');
    });

    it('GIVEN raw messages nested deeper than the producer allows THEN the worker dead-letters them as MalformedMessage with the producer explanation, and keeps running', async () => {
      const t = echo();
      const { spool } = await app([t]);
      const producerMessage = await spool.enqueue(t, { tree: nested(10_000) }).then(
        () => '',
        (e: unknown) => (e as Error).message,
      );
      const ids = [`deep10k${suffix()}`, `deep257${suffix()}`];
      await send(
        spool,
        `{"spool":1,"id":"${ids[0]}","task":"${t.name}","args":${nestedJson(10_000)}}`,
        `raw-${ids[0]}`,
      );
      await send(
        spool,
        `{"spool":1,"id":"${ids[1]}","task":"${t.name}","args":${nestedJson(MAX_JSON_DEPTH + 1)}}`,
        `raw-${ids[1]}`,
      );
      // A deep field other than args: refused too, never walked.
      await send(spool, `{"spool":${nestedJson(10_000)},"id":"x","task":"y","args":{}}`, `raw-spool-${suffix()}`);
      const dead = await waitForDeadLetters(spool, 3, 15_000);
      expect(dead.every((d) => d.errorName === 'MalformedMessage')).toBe(true);
      const byId = new Map(dead.map((d) => [d.taskId, d.reason]));
      for (const id of ids) {
        expect(byId.get(id)).toMatch(/^"args" are nested too deep: \$\[0\]\[0\]/);
        expect(byId.get(id)).toContain(NESTED_TOO_DEEP);
        expect((await spool.handle(id).info())?.state).toBe('dead');
      }
      expect(producerMessage).toContain(NESTED_TOO_DEEP);
      expect(dead.some((d) => /message body is nested too deep: \$\.spool\[0\]/.test(d.reason ?? ''))).toBe(true);
      await expect((await spool.enqueue(t, { tree: [1] })).result({ timeoutMs: 15_000 })).resolves.toBe('ran');
    });
  });
}
