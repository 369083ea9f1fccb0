/** BatchDeleter: deletes go in batches; a partial batch waits at most its linger; flush sends all. */

import { describe, expect, it } from 'vitest';
import type { Queue } from '../../lib/backend/transport.js';
import { silentLogger } from '../../lib/log/logger.js';
import { BatchDeleter, mayLinger } from '../../lib/worker/deleter.js';

function fakeQueue() {
  const batches: string[][] = [];
  const queue = { delete: async (handles: readonly string[]) => void batches.push([...handles]) } as unknown as Queue;
  return { queue, batches };
}

describe('BatchDeleter', () => {
  it('GIVEN ten deletes THEN they go as one batch at once', async () => {
    const { queue, batches } = fakeQueue();
    const deleter = new BatchDeleter(queue, silentLogger, 10, 60_000);
    await Promise.all(Array.from({ length: 10 }, (_, i) => deleter.delete(`h${i}`)));
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(10);
  });

  it('GIVEN a partial batch WHEN flush() is called THEN it still waits for companions, then goes within the linger', async () => {
    const { queue, batches } = fakeQueue();
    const deleter = new BatchDeleter(queue, silentLogger, 10, 150);
    const t0 = Date.now();
    void deleter.delete('a');
    const flushed = deleter.flush();
    void deleter.delete('b');
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([]);
    await flushed;
    expect(batches).toEqual([['a', 'b']]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('GIVEN pending deletes WHEN flushNow() is called THEN they are sent at once', async () => {
    const { queue, batches } = fakeQueue();
    const deleter = new BatchDeleter(queue, silentLogger, 10, 60_000);
    void deleter.delete('a');
    await deleter.flushNow();
    expect(batches).toEqual([['a']]);
    expect(deleter.pending).toBe(0);
  });

  it('GIVEN a message that may hold back its FIFO group WHEN it is deleted THEN it goes at once, with what waits', async () => {
    const { queue, batches } = fakeQueue();
    const deleter = new BatchDeleter(queue, silentLogger, 10, 60_000);
    void deleter.delete('alone');
    await deleter.delete('grouped', false);
    expect(batches).toEqual([['alone', 'grouped']]);
  });

  it('GIVEN received messages THEN only one alone in its group by construction may linger', () => {
    expect(mayLinger({ groupId: 'r-1', deduplicationId: 'r-1' })).toBe(true);
    // An ordering key shared with other runs, or a delayed run's deduplication id.
    expect(mayLinger({ groupId: 'customer-7', deduplicationId: 'r-1' })).toBe(false);
    expect(mayLinger({ groupId: 'r-1', deduplicationId: 'r-1.delay.1700000000000' })).toBe(false);
    expect(mayLinger({ groupId: 'r-1', deduplicationId: '' })).toBe(false);
  });

  it('GIVEN a failing queue THEN the delete resolves anyway (the message comes back as a duplicate)', async () => {
    const queue = {
      delete: async () => {
        throw new Error('boom');
      },
    } as unknown as Queue;
    const deleter = new BatchDeleter(queue, silentLogger, 1, 10);
    await expect(deleter.delete('a')).resolves.toBeUndefined();
  });
});
