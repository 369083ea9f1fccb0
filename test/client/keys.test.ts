/**
 * What enqueue accepts as a lock key or an enqueuer: unique and singleton keys are NFC-normalized
 * and at most MAX_LOCK_KEY_BYTES, and `enqueuedBy` is a printable string of at most 2048
 * characters; anything else is refused before anything is sent.
 */

import { createSpool, defineTask, EnqueueError, MAX_LOCK_KEY_BYTES, type Spool } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

const spools: Spool[] = [];
afterEach(async () => {
  for (const spool of spools.splice(0)) await spool.close();
});

function app(tasks: Parameters<typeof createSpool>[0]['tasks']): Spool {
  const spool = createSpool({ backend: openEmbeddedBackend({ path: ':memory:' }), tasks });
  spools.push(spool);
  return spool;
}

const depth = async (spool: Spool) => (await spool.backend.transport.tasks.stats()).visible;

describe('lock keys and enqueuers', () => {
  it('GIVEN unique keys that differ only in Unicode composition THEN they are one lock', async () => {
    const task = defineTask({
      name: 'report',
      schema: z.object({ account: z.string(), n: z.number() }),
      unique: { key: (a) => a.account, ttlSeconds: 60 },
      handler: () => 1,
    });
    const spool = app([task]);
    const composed = await spool.enqueue(task, { account: 'caf\u00e9', n: 1 });
    const decomposed = await spool.enqueue(task, { account: 'cafe\u0301', n: 2 });
    expect(decomposed.existing).toBe(true);
    expect(decomposed.id).toBe(composed.id);
  });

  it('GIVEN a unique or singleton key over MAX_LOCK_KEY_BYTES THEN enqueue refuses it, saying the size and the limit, and sends nothing', async () => {
    const long = 'k'.repeat(MAX_LOCK_KEY_BYTES + 1);
    const unique = defineTask({
      name: 'unique.long',
      schema: z.object({ k: z.string() }),
      unique: { key: (a) => a.k, ttlSeconds: 60 },
      handler: () => 1,
    });
    const singleton = defineTask({
      name: 'singleton.long',
      schema: z.object({ k: z.string() }),
      singleton: { key: (a) => a.k },
      handler: () => 1,
    });
    const spool = app([unique, singleton]);
    for (const task of [unique, singleton]) {
      const error = await spool.enqueue(task, { k: long }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EnqueueError);
      expect((error as EnqueueError).code).toBe('INVALID_ENQUEUE_OPTION');
      expect((error as Error).message).toMatch(
        new RegExp(
          `key is ${MAX_LOCK_KEY_BYTES + 1} bytes as UTF-8; the limit is ${MAX_LOCK_KEY_BYTES} .*Nothing was enqueued`,
        ),
      );
    }
    expect(await depth(spool)).toBe(0);
  });

  it('GIVEN a unique task without a key function and long arguments THEN its lock is the task id, and the same arguments are one run', async () => {
    const task = defineTask({
      name: 'unique.default',
      schema: z.object({ blob: z.string() }),
      unique: { ttlSeconds: 60 },
      handler: () => 1,
    });
    const spool = app([task]);
    const args = { blob: 'x'.repeat(5000) };
    const first = await spool.enqueue(task, args);
    const second = await spool.enqueue(task, args);
    expect(second.id).toBe(first.id);
    expect(await depth(spool)).toBe(1);
  });

  it('GIVEN an enqueuedBy with a control character, empty, or over 2048 characters THEN enqueue refuses it', async () => {
    const task = defineTask({ name: 'plain', schema: z.object({}), handler: () => 1 });
    const spool = app([task]);
    for (const enqueuedBy of ['arn:aws:iam::1:role/a\u001b[31m', '', 'a'.repeat(2049)]) {
      await expect(spool.enqueue(task, {}, { enqueuedBy })).rejects.toThrow(
        /enqueuedBy .* is not allowed; use a string of 1–2048 characters without control characters/,
      );
    }
    expect(await depth(spool)).toBe(0);
    const ok = await spool.enqueue(task, {}, { enqueuedBy: 'arn:aws:iam::123456789012:role/shop' });
    expect(ok.id).toMatch(/^[0-9a-f]{32}$/);
  });
});
