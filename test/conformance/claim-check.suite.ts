/**
 * The claim-check: arguments too large for a message, results too large for a record, error
 * messages longer than a record keeps and dead-letter copies that would not fit the dead-letter
 * queue travel as blobs, and come back whole, the same way on every backend.
 */

import {
  type BlobStore,
  createProducer,
  defineTask,
  EnqueueError,
  listDeadLetters,
  MAX_MESSAGE_BYTES,
  NonRetriableError,
  redriveDeadLetters,
  TaskFailedError,
  type TaskStore,
} from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, suffix, useHarness, waitForDeadLetters } from './harness.js';

/** `store` with its blob store's puts recorded in `keys`; those whose key matches `drop` are not written. */
function recordingBlobs(store: TaskStore, keys: string[], drop?: RegExp): TaskStore {
  const inner = store.blobs;
  const blobs: BlobStore | undefined =
    inner === undefined
      ? undefined
      : {
          put: async (key, body, expiresAt) => {
            keys.push(key);
            if (drop?.test(key) !== true) await inner.put(key, body, expiresAt);
          },
          get: (key, now) => inner.get(key, now),
        };
  return new Proxy(store, {
    get(target, key) {
      if (key === 'blobs') return blobs;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const MiB = 1024 * 1024;

export function claimCheck(factory: BackendFactory) {
  const app = useHarness(factory);
  const putKeys: string[] = [];
  const recordingApp = useHarness({
    name: `${factory.name}, blob puts recorded`,
    async create(options) {
      const backend = await factory.create(options);
      return { ...backend, store: recordingBlobs(backend.store, putKeys) };
    },
  });
  const losingApp = useHarness({
    name: `${factory.name}, result blobs lost`,
    async create(options) {
      const backend = await factory.create(options);
      return { ...backend, store: recordingBlobs(backend.store, [], /\/result\//) };
    },
  });

  describe('claim-check (values too large for a message or a record)', () => {
    it('GIVEN 3 MiB of arguments WHEN enqueued THEN the worker runs them whole (the message carried a reference)', async () => {
      const t = defineTask({
        name: `bigargs.${suffix()}`,
        schema: z.object({ blob: z.string() }),
        handler: ({ blob }) => ({ length: blob.length, tail: blob.slice(-3) }),
      });
      const { spool } = await app([t]);
      const handle = await spool.enqueue(t, { blob: `${'a'.repeat(3 * MiB)}xyz` });
      expect(await handle.result({ timeoutMs: 20_000 })).toEqual({ length: 3 * MiB + 3, tail: 'xyz' });
    });

    it('GIVEN a 2 MiB result THEN handle.result() and info() read it back whole, and the record carries its reference', async () => {
      const t = defineTask({ name: `bigresult.${suffix()}`, schema: z.object({}), handler: () => 'r'.repeat(2 * MiB) });
      const { spool } = await app([t]);
      const handle = await spool.enqueue(t, {});
      const result = await handle.result({ timeoutMs: 20_000 });
      expect(result).toHaveLength(2 * MiB);
      const info = await handle.info();
      expect(info?.resultRef?.bytes).toBe(2 * MiB + 2);
      expect(info?.resultRef?.key).toMatch(/^blobs\/\d+d\/result\/.+\//);
      expect(info?.result).toBe(JSON.stringify(result));
      // The record as stored holds the reference, not the value.
      const stored = await spool.backend.store.get(handle.id);
      expect(stored?.result).toBeUndefined();
    });

    it('GIVEN a large result whose blob is lost THEN result() rejects saying which blob is missing, and info() still reads the record', async () => {
      const t = defineTask({ name: `lostresult.${suffix()}`, schema: z.object({}), handler: () => 'l'.repeat(MiB) });
      const { spool } = await losingApp([t]);
      const handle = await spool.enqueue(t, {});
      await expect(handle.result({ timeoutMs: 20_000 })).rejects.toThrow(
        /^Run \S+ succeeded, but its result cannot be read: blob blobs\/\d+d\/result\/\S+ \(1048578 bytes\) is missing/,
      );
      const info = await handle.info();
      expect(info?.state).toBe('succeeded');
      expect(info?.result).toBeUndefined();
      expect(info?.resultRef?.bytes).toBe(MiB + 2);
    });

    it('GIVEN a 100,000-byte error message THEN the record keeps it cut, with a reference to the whole, and the failure reads it whole', async () => {
      const message = `${'e'.repeat(100_000)}END`;
      const t = defineTask({
        name: `bigerror.${suffix()}`,
        schema: z.object({}),
        handler: () => {
          throw new NonRetriableError(message);
        },
      });
      const { spool } = await app([t]);
      const handle = await spool.enqueue(t, {});
      const failure = await handle.result({ timeoutMs: 20_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(TaskFailedError);
      expect((failure as Error).message).toContain(`${'e'.repeat(1000)}END`);
      const stored = await spool.backend.store.get(handle.id);
      expect(stored?.error?.message).toMatch(/\[cut: the message is 100003 bytes/);
      expect(stored?.error?.messageRef?.bytes).toBe(100_003);
      expect((await handle.info())?.error?.message).toBe(message);
    });

    it('GIVEN arguments over maxArgumentBytes WHEN enqueued THEN EnqueueError names the size, the limit and the option, and nothing is sent', async () => {
      const t = defineTask({ name: `toobig.${suffix()}`, schema: z.object({ blob: z.string() }), handler: () => 1 });
      const { backend } = await app([t], { worker: false });
      const producer = createProducer({ backend, maxArgumentBytes: 2 * MiB });
      const attempt = producer.enqueue(t, { blob: 'x'.repeat(3 * MiB) });
      await expect(attempt).rejects.toBeInstanceOf(EnqueueError);
      await expect(attempt).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      await expect(attempt).rejects.toThrow(
        /the arguments are 3145739 bytes as JSON; the limit is 2097152 bytes \(the maxArgumentBytes option .*Nothing was enqueued/,
      );
      const stats = await backend.transport.tasks.stats();
      expect(stats.visible + stats.inFlight).toBe(0);
    });

    it('GIVEN a message whose argument blob is missing THEN the run is dead-lettered with MissingBlob and the reason names the key', async () => {
      const t = defineTask({ name: `noblob.${suffix()}`, schema: z.object({}), handler: () => 1 });
      const { spool } = await app([t]);
      const id = `noblob${suffix()}`;
      const key = `blobs/64d/args/nowhere/${id}/${'0'.repeat(32)}`;
      const body = JSON.stringify({ spool: 1, id, task: t.name, argsRef: { key, bytes: 10, sha256: '0'.repeat(64) } });
      await spool.backend.transport.tasks.send([{ body, deduplicationId: id, groupId: id }]);
      const dead = await waitForDeadLetters(spool, 1);
      expect(dead[0]?.errorName).toBe('MissingBlob');
      expect(dead[0]?.reason).toContain(`blob ${key} (10 bytes) is missing`);
      await expect(spool.handle(id).result({ timeoutMs: 10_000 })).rejects.toThrow(/ended dead: MissingBlob/);
    });

    it('GIVEN the same large arguments enqueued twice THEN both writes use one key, derived from the queue and the task id', async () => {
      const t = defineTask({ name: `samekey.${suffix()}`, schema: z.object({ blob: z.string() }), handler: () => 1 });
      putKeys.length = 0;
      const { spool, clock } = await recordingApp([t], { worker: false });
      const args = { blob: 'k'.repeat(2 * MiB) };
      const first = await spool.enqueue(t, args);
      clock.advance(60_000); // a retry a minute later
      const second = await spool.enqueue(t, args);
      expect(second.id).toBe(first.id);
      expect(putKeys).toHaveLength(2);
      expect(putKeys[1]).toBe(putKeys[0]);
      const queue = encodeURIComponent(spool.backend.transport.tasks.name);
      expect(putKeys[0]).toMatch(
        new RegExp(`^blobs/\\d+d/args/${queue.replace(/[.]/g, '\\.')}/${first.id}/[0-9a-f]{32}$`),
      );
      const [message] = await spool.backend.transport.tasks.receive({
        maxMessages: 1,
        visibilityTimeoutSeconds: 30,
        waitTimeSeconds: 1,
      });
      const envelope = JSON.parse(message?.body ?? '{}') as { args?: unknown; argsRef?: { key: string } };
      expect(envelope.args).toBeUndefined();
      expect(envelope.argsRef?.key).toBe(putKeys[0]);
      expect(await spool.backend.store.blobs?.get(putKeys[0] ?? '', clock.now())).toBe(JSON.stringify(args));
    });

    it('GIVEN a message near 1 MiB that is dead-lettered THEN the copy (whose attributes would push it over) keeps its body as a blob, and a redrive sends the original back', async () => {
      const { spool, startWorker } = await app([], { worker: false });
      const id = `nearmib${suffix()}`;
      const prefix = JSON.stringify({ spool: 1, id, task: 'not.registered', args: { pad: '' } }).slice(0, -3);
      const body = `${prefix}${'p'.repeat(MAX_MESSAGE_BYTES - 100 - prefix.length - 3)}"}}`;
      expect(Buffer.byteLength(body)).toBe(MAX_MESSAGE_BYTES - 100);
      await spool.backend.transport.tasks.send([{ body, deduplicationId: id, groupId: id }]);
      const worker = await startWorker();
      const dead = await waitForDeadLetters(spool, 1);
      await worker.stop();
      expect(dead[0]?.errorName).toBe('UnknownTask');
      expect(dead[0]?.taskId).toBe(id);
      expect(dead[0]?.preview).toMatch(/^\{"spool":1,"bodyRef":\{"key":"blobs\/\d+d\/dead-letter\//);
      expect(await redriveDeadLetters(spool.backend)).toBe(1);
      const [back] = await spool.backend.transport.tasks.receive({
        maxMessages: 1,
        visibilityTimeoutSeconds: 30,
        waitTimeSeconds: 2,
      });
      expect(back?.body).toBe(body);
      expect((await listDeadLetters(spool.backend, { limit: 10 })).length).toBe(0);
    });
  });
}
